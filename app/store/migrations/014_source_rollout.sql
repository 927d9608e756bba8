-- Each source's phased rollout as a supervisor last set it (issue 24, docs/rollout.md):
-- OFF, SHADOW, PILOT or ON, with its pilot cohort. A source with no row is at its
-- configured mode (SCV_<NAME>__ROLLOUT__MODE). Kept here so that every instance serves the
-- same mode; the history of changes is the audit trail (kind ROLLOUT_CHANGE).

create table source_rollout (
    source          text primary key,
    mode            text not null check (mode in ('OFF', 'SHADOW', 'PILOT', 'ON')),
    pilot_subjects  text[] not null default '{}',
    pilot_queues    text[] not null default '{}',
    changed_by      text not null,
    changed_at      timestamptz not null default now(),
    reason          text not null
);

-- A change of a source's rollout is an audit entry of its own kind. The list is every kind
-- so far, WRITE (012_writes.sql, write-back) included; a migration that adds another kind
-- re-lists these, ROLLOUT_CHANGE included.
alter table audit_trail drop constraint audit_trail_kind_check;
alter table audit_trail add constraint audit_trail_kind_check check (kind in (
    'READ', 'HANDOFF', 'CLAIM', 'TRANSFER', 'END', 'VERIFY', 'PURPOSE', 'LINK_CHANGE',
    'WRITE', 'ROLLOUT_CHANGE'));

-- Open tickets as the last facts refresh found them (issue 24's integration KPIs): the
-- backlog by canonical status and age is read from here, never by scanning the support
-- system on a request. Replaced whole, per source, by each refresh.
create table ticket_backlog (
    source      text not null,
    ticket_id   text not null,
    status      text not null,
    created_at  timestamptz not null,
    primary key (source, ticket_id)
);

-- The backlog's trend: one row per day, status and age bucket, as the day's last refresh
-- found it (each refresh upserts its own day; earlier days stay as they were).
create table ticket_backlog_daily (
    day         date not null,
    status      text not null,
    age_bucket  text not null check (age_bucket in ('UNDER_1D', 'D1_3', 'D3_7', 'OVER_7D')),
    tickets     integer not null check (tickets >= 0),
    primary key (day, status, age_bucket)
);

-- A ticket's age bucket: under a day, 1-3 days, 3-7 days, over 7 days.
create function ticket_age_bucket(age interval) returns text
language sql immutable as $$
    select case when age < interval '1 day' then 'UNDER_1D'
                when age < interval '3 days' then 'D1_3'
                when age < interval '7 days' then 'D3_7'
                else 'OVER_7D' end
$$;
