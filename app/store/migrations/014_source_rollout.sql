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

-- A change of a source's rollout is an audit entry of its own kind. (A migration that adds
-- another kind re-lists these, ROLLOUT_CHANGE included.)
alter table audit_trail drop constraint audit_trail_kind_check;
alter table audit_trail add constraint audit_trail_kind_check check (kind in (
    'READ', 'HANDOFF', 'CLAIM', 'TRANSFER', 'END', 'VERIFY', 'PURPOSE', 'LINK_CHANGE',
    'ROLLOUT_CHANGE'));
