-- The PII audit trail: who read which personal fields of whom, and every step of an
-- interaction. Append-only. Applied once, in a transaction, by app.store.Store.migrate.
--
-- Never a value: only schema coordinates of the fields served (Profile.email), whether
-- they were masked, and the outcome.

create table audit_trail (
    id             bigint generated always as identity primary key,
    at             timestamptz not null default now(),
    kind           text not null check (kind in (
                       'READ', 'HANDOFF', 'CLAIM', 'TRANSFER', 'END', 'VERIFY', 'PURPOSE',
                       'LINK_CHANGE')),
    request_id     text,
    subject        text not null,
    role           text not null,
    interaction_id text,
    -- No foreign key: the trail outlives customers merged or removed by the sync.
    customer_id    text,
    fields         text[] not null default '{}',
    masked         boolean not null default false,
    purpose        text,
    outcome        text not null,
    client_address text,
    detail         text
);

-- auditTrail(customerId) pages newest first by id.
create index audit_trail_customer_idx on audit_trail (customer_id, id desc);
-- Retention deletes by age.
create index audit_trail_at_idx on audit_trail (at);

-- Append-only: no UPDATE ever, no TRUNCATE, and no DELETE except through audit_prune, which
-- deletes only rows older than the cutoff it is given and says so in a transaction-local
-- setting. The trigger keeps the application (and a mistaken hand) from rewriting history;
-- keeping a hostile database owner out is for privileges: grant the gateway's role
-- INSERT and SELECT on audit_trail and EXECUTE on audit_prune, nothing more.
create function audit_trail_append_only() returns trigger
language plpgsql as $$
declare
    cutoff text := current_setting('scv.audit_prune_before', true);
begin
    -- Nested rather than one AND: OLD does not exist for TRUNCATE, and SQL does not
    -- promise to evaluate AND left to right.
    if tg_op = 'DELETE' and coalesce(cutoff, '') <> '' then
        if old.at < cutoff::timestamptz then
            return old;
        end if;
    end if;
    raise exception 'audit_trail is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_trail_no_update_or_delete
    before update or delete on audit_trail
    for each row execute function audit_trail_append_only();

create trigger audit_trail_no_truncate
    before truncate on audit_trail
    for each statement execute function audit_trail_append_only();

-- Retention: delete entries older than `cutoff` (the caller computes it from the retention
-- setting); returns how many went. The setting lives until the end of the transaction only.
create function audit_prune(cutoff timestamptz) returns bigint
language plpgsql as $$
declare
    removed bigint;
begin
    if cutoff > now() - interval '1 day' then
        raise exception 'audit_prune keeps at least the last day (cutoff %)', cutoff
            using errcode = 'invalid_parameter_value';
    end if;
    perform set_config('scv.audit_prune_before', cutoff::text, true);
    delete from audit_trail where at < cutoff;
    get diagnostics removed = row_count;
    perform set_config('scv.audit_prune_before', '', true);
    return removed;
end;
$$;
