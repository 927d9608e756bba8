-- Webhooks: which vendor events were processed, and how new the data applied per record is.
-- Written by app.store.Store.webhook_event (see app/webhooks.py), in the transaction that
-- applies the event, so an event that failed half-way is not recorded as processed.

-- One row per processed event. The primary key is what makes a duplicate (a vendor retry,
-- or the same event delivered to two gateway processes at once) processed once: the second
-- insert waits for the first transaction and then conflicts.
create table webhook_events (
    source      text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    event_id    text not null,
    event_type  text not null,
    occurred_at timestamptz not null,
    received_at timestamptz not null default now(),
    primary key (source, event_id)
);

-- Old rows can be deleted once vendors no longer retry them (Stripe retries for 3 days).
create index webhook_events_received_at_idx on webhook_events (received_at);

-- The time of the newest event whose value was applied, per record and field ('email',
-- 'phone'): an older event arriving later leaves the lookup keys alone.
create table webhook_record_versions (
    source      text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    external_id text not null,
    field       text not null check (field in ('email', 'phone')),
    occurred_at timestamptz not null,
    primary key (source, external_id, field)
);
