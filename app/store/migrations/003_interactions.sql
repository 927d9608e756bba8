-- Interactions: one contact (call) handed off by the IVR, who holds it, how well the caller
-- was verified; their append-only history; and the handoff ids (jti) already used.
-- Applied once, in a transaction, by app.store.Store.migrate (see schema_migrations).

-- A handoff's jti is accepted once per issuer, ever (rows outlive the handoff's expiry, so
-- no replay slips in after a clean-up): the primary key is what makes two concurrent
-- submissions of one handoff end with exactly one interaction.
create table ivr_handoff_jtis (
    issuer      text not null,
    jti         text not null,
    contact_id  text not null,
    received_at timestamptz not null,
    primary key (issuer, jti)
);

create table interactions (
    id           text primary key,
    -- One interaction per IVR contact: a second handoff of the same call is refused.
    contact_id   text not null unique,
    -- No foreign key: an interaction's history stays even if the customer is merged away.
    customer_id  text not null,
    state        text not null check (state in ('WAITING', 'ACTIVE', 'ENDED')),
    agent        text,
    level        smallint not null check (level between 0 and 3),
    method       text,
    result       text,
    score        double precision,
    verified_at  timestamptz,
    verified_by  text,
    kba_attempts integer not null default 0 check (kba_attempts >= 0),
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    -- Past it the interaction is expired whatever its state says (computed on read): no
    -- claim, transfer or token works any more, and the row stays as history.
    expires_at   timestamptz not null
);

create index interactions_customer_id_idx on interactions (customer_id);

create table interaction_events (
    id             bigint generated always as identity primary key,
    interaction_id text not null references interactions (id),
    kind           text not null
        check (kind in ('HANDOFF', 'CLAIM', 'TRANSFER', 'END', 'VERIFY')),
    actor          text not null,
    -- What the step changed (agents, level, outcome); never an answer or a personal value.
    detail         jsonb not null default '{}'::jsonb,
    at             timestamptz not null
);

create index interaction_events_interaction_idx on interaction_events (interaction_id, id);

-- History is append-only: a step is a new row, never an edit of an old one.
create function interaction_events_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'interaction_events is append-only';
end;
$$;

create trigger interaction_events_no_update_or_delete
    before update or delete on interaction_events
    for each row execute function interaction_events_append_only();
