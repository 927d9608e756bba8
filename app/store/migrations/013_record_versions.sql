-- Live changes (app/live): a record's newest vendor event, whatever it changed, so that an
-- event older than one already published is never published after it (out of order). The
-- row's field is 'record' beside the key fields 'email' and 'phone' it already kept.
alter table webhook_record_versions drop constraint if exists webhook_record_versions_field_check;
alter table webhook_record_versions
  add constraint webhook_record_versions_field_check check (field in ('email', 'phone', 'record'));
