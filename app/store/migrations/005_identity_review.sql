-- Identity you can trust (issue 3): how sure each link is, how it was made, the decisions
-- people made about links, what the rules found but left for a person, and where each
-- source's incremental sync left off. Applied once, in a transaction, by Store.migrate.

-- 'manual': a supervisor's linkIdentity / unlinkIdentity decision made this link.
alter table identity_links drop constraint identity_links_matched_by_check;
alter table identity_links add constraint identity_links_matched_by_check
    check (matched_by in ('anchor', 'xref', 'email', 'phone', 'manual'));
-- From SCV_IDENTITY's rule confidences at the time of linking (1.0 for anchors and people).
alter table identity_links add column confidence real not null default 1.0
    check (confidence > 0 and confidence <= 1);
-- What made the link: the batch sync, a live lookup, a webhook, or a person.
alter table identity_links add column linked_via text not null default 'sync'
    check (linked_via in ('sync', 'live', 'webhook', 'manual'));

-- Supervisors' decisions ("not this person", "this is the same person"). Append-only:
-- the latest decision for a (source, external_id, customer_id) is the one that holds, and
-- the sync and live lookups never link a record to a customer it was unlinked from.
create table identity_decisions (
    id          bigint generated always as identity primary key,
    decision    text not null check (decision in ('link', 'unlink')),
    source      text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    external_id text not null,
    -- link: the customer the record was linked to; unlink: the customer it was taken from.
    customer_id text not null,
    reason      text not null check (length(reason) between 1 and 500),
    decided_by  text not null,
    decided_at  timestamptz not null default now()
);

create index identity_decisions_record_idx on identity_decisions (source, external_id);

-- Records the rules could not link on their own: a rule that found several customers
-- ('ambiguous'), or rules that pointed at different existing customers ('rules_disagree').
-- Nothing is merged by a rule; these are reported (possible duplicates, the data-quality
-- report) for a person to decide.
create table identity_review (
    id           bigint generated always as identity primary key,
    kind         text not null check (kind in ('ambiguous', 'rules_disagree')),
    source       text not null check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    external_id  text not null,
    -- The customers the rules pointed at, and the rules that did (same order).
    customer_ids text[] not null,
    rules        text[] not null,
    detected_at  timestamptz not null default now(),
    resolved_at  timestamptz,
    unique (source, external_id, kind)
);

create index identity_review_customers_idx on identity_review using gin (customer_ids);

-- Where each source's incremental sync left off (an updated-since time or a vendor cursor).
create table sync_cursors (
    source     text primary key check (source in ('BILLING', 'CRM', 'SUPPORT', 'IVR')),
    cursor     text not null,
    updated_at timestamptz not null default now()
);

alter table sync_runs add column mode text not null default 'full'
    check (mode in ('full', 'incremental'));
