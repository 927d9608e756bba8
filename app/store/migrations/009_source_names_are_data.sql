-- Source names are data: the source registry (adapters/registry.py) decides which exist, so
-- that registering a source needs no migration. Every name the gateway writes is a
-- kernel.models.Source, each of which the registry has an entry for (tested); the columns
-- stay text not null.
alter table identity_links drop constraint if exists identity_links_source_check;
alter table lookup_keys drop constraint if exists lookup_keys_source_check;
alter table webhook_events drop constraint if exists webhook_events_source_check;
alter table webhook_record_versions drop constraint if exists webhook_record_versions_source_check;
alter table identity_decisions drop constraint if exists identity_decisions_source_check;
alter table identity_review drop constraint if exists identity_review_source_check;
alter table sync_cursors drop constraint if exists sync_cursors_source_check;
