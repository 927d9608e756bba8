-- Identity: the gateway's own customers and the links from each system's records to them.
-- Applied once, in a transaction, by app.store.Store.migrate (see schema_migrations).

create table customers (
    id           text primary key,
    display_name text not null,
    -- Which record supplied display_name and how good a name it is (0 = CRM name, best;
    -- see app.sync), so a better source can replace it and a rename at the source that
    -- supplied it is picked up, without reading every linked record again.
    display_rank smallint not null,
    display_ref  text not null,
    created_at   timestamptz not null default now(),
    updated_at   timestamptz not null default now()
);

create table identity_links (
    source      text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    external_id text not null,
    customer_id text not null references customers (id) on delete cascade,
    -- The rule that linked the record: 'anchor' when the record created the customer.
    matched_by  text not null check (matched_by in ('anchor', 'xref', 'email', 'phone')),
    linked_at   timestamptz not null default now(),
    primary key (source, external_id)
);

create index identity_links_customer_id_idx on identity_links (customer_id);

-- Normalised emails and E.164 phones of every linked record, pointing at its customer.
-- Derived from the records by the sync, which writes a record's keys in the transaction
-- that writes its link. No foreign keys: each check locks the row it references, which
-- doubled the cost of writing the keys of a first sync (600,000 keys for 100,000 customers).
create table lookup_keys (
    kind        text not null check (kind in ('email', 'phone')),
    value       text not null,
    customer_id text not null,
    source      text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    external_id text not null,
    -- Led by the record rather than by the key: the sync reads and changes a record's keys
    -- by (source, external_id), while lookups by key use the index below.
    primary key (source, external_id, kind, value)
);

create index lookup_keys_kind_value_idx on lookup_keys (kind, value);

create table sync_runs (
    id          bigint generated always as identity primary key,
    started_at  timestamptz not null default now(),
    finished_at timestamptz,
    outcome     text not null default 'running'
        check (outcome in ('running', 'succeeded', 'failed')),
    -- {"CRM": {"seen": 7, "linked_new": 0, ...}, "BILLING": {...}, "SUPPORT": {...}}
    counts      jsonb not null default '{}'::jsonb
);
