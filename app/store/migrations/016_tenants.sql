-- Tenants (docs/tenancy.md): every customer, link, key, decision, interaction, audit entry,
-- read-model row, export, webhook event, write and sync cursor belongs to one tenant, and
-- the keys that made a row unique now make it unique within its tenant: the same record id
-- in two tenants' systems is two records, the same email two customers.
--
-- Rows stored before tenancy belong to the default tenant. That is configuration
-- (SCV_TENANCY__DEFAULT_TENANT), not this file: the migration runner hands it in as the
-- transaction's setting scv.default_tenant, and it becomes each column's default, so a
-- writer that names no tenant writes the default tenant's rows, as before tenancy.

do $$
declare
    default_tenant text := current_setting('scv.default_tenant');
    scoped text;
begin
    foreach scoped in array array[
        'customers', 'identity_links', 'lookup_keys', 'identity_decisions', 'identity_review',
        'interactions', 'interaction_events', 'audit_trail', 'customer_facts', 'export_jobs',
        'webhook_events', 'webhook_record_versions', 'writes', 'sync_cursors', 'sync_runs'
    ] loop
        -- Existing rows take the default as the column is added (no rewrite of the table).
        execute format(
            'alter table %I add column tenant text not null default %L', scoped, default_tenant
        );
    end loop;
end
$$;

-- The tenant last: a tenant's lookups use the keys' leading columns, and so does the check
-- that a key missing in one tenant is another's (app/store/boundary.py, audited).
alter table identity_links drop constraint identity_links_pkey,
    add primary key (source, external_id, tenant);

alter table lookup_keys drop constraint lookup_keys_pkey,
    add primary key (source, external_id, kind, value, tenant);
drop index lookup_keys_kind_value_idx;
create index lookup_keys_kind_value_idx on lookup_keys (kind, value, tenant);

drop index identity_decisions_record_idx;
create index identity_decisions_record_idx on identity_decisions (tenant, source, external_id);

alter table identity_review drop constraint identity_review_source_external_id_kind_key,
    add unique (tenant, source, external_id, kind);

alter table interactions drop constraint interactions_contact_id_key,
    add unique (tenant, contact_id);

alter table webhook_events drop constraint webhook_events_pkey,
    add primary key (tenant, source, event_id);

alter table webhook_record_versions drop constraint webhook_record_versions_pkey,
    add primary key (tenant, source, external_id, field);

alter table writes drop constraint writes_principal_idempotency_key_key,
    add unique (tenant, principal, idempotency_key);

alter table sync_cursors drop constraint sync_cursors_pkey,
    add primary key (tenant, source);

-- Analysts page through one tenant's customers, oldest first.
create index customers_tenant_created_idx on customers (tenant, created_at, id);
create index audit_trail_tenant_idx on audit_trail (tenant, id desc);
