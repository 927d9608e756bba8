-- Writes back to the systems of record (app/writes): one row per accepted write, which is
-- at once its idempotency record, its outbox entry and its status.
--
-- One table rather than three: the key's outcome, the delivery to do and the status a
-- client reads are the same fact at three moments, and one row changes them together
-- (no transaction across tables for a worker to get half right).
--
-- Idempotency: one row per (principal, idempotency_key), with a hash of the input; a
-- retried mutation finds the row and answers its outcome, another input under the same
-- key is refused (IDEMPOTENCY_KEY_REUSED).
--
-- Outbox: PENDING rows whose next_attempt_at has come are claimed by any worker of any
-- process with SELECT ... FOR UPDATE SKIP LOCKED; a claim moves next_attempt_at past the
-- lease and draws a claim token, and only the token's holder records the outcome.
--
-- input holds the values to write (an email, a note's text) only while the write is
-- PENDING: once APPLIED or FAILED it is emptied. Never logged, never in the audit.

create table writes (
    id               uuid primary key,
    principal        text not null,
    principal_role   text not null,
    idempotency_key  text not null,
    input_hash       text not null,
    kind             text not null,
    source           text not null,
    customer_id      text not null,
    target_record_id text not null,
    input            jsonb not null,
    fields           text[] not null default '{}',
    expected_version text,
    vendor_key       text not null,
    status           text not null check (status in ('APPLIED', 'PENDING', 'FAILED')),
    record_id        text,
    reason           text,
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    claim_token      uuid,
    last_error       text,
    interaction_id   text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    finished_at      timestamptz,
    unique (principal, idempotency_key)
);

-- The outbox's claim: due PENDING rows, soonest first.
create index writes_due_idx on writes (next_attempt_at) where status = 'PENDING';

-- Every write is audited: a new kind of audit entry.
alter table audit_trail drop constraint audit_trail_kind_check;
alter table audit_trail add constraint audit_trail_kind_check check (kind in (
    'READ', 'HANDOFF', 'CLAIM', 'TRANSFER', 'END', 'VERIFY', 'PURPOSE', 'LINK_CHANGE',
    'WRITE'));
