-- Each source's calls per UTC day (issue 24's integration KPIs, docs/rollout.md): calls,
-- failures, unavailable answers and contract errors, and its shadow comparisons, as every
-- gateway process counted them. A process counts in memory and adds its counts here in
-- batches (app/kpis/call_days.py), one upsert per flush, never a row per call: the
-- per-source figures of integrationKpis survive restarts and add up across instances.
create table source_call_days (
    day               date not null,
    source            text not null,
    calls             bigint not null default 0 check (calls >= 0),
    errors            bigint not null default 0 check (errors >= 0),
    unavailable       bigint not null default 0 check (unavailable >= 0),
    contract_errors   bigint not null default 0 check (contract_errors >= 0),
    shadow_agreed     bigint not null default 0 check (shadow_agreed >= 0),
    shadow_disagreed  bigint not null default 0 check (shadow_disagreed >= 0),
    primary key (day, source)
);

-- The data-quality report's duplicate candidates (pairs of customers that may be one
-- person), one reading per UTC day: the last of the day, written where the count is taken
-- anyway (the dataQuality report, the /metrics scrape's identity counts), so that
-- integrationKpis shows their volume over time without counting again.
create table duplicate_candidate_days (
    day          date primary key,
    candidates   integer not null check (candidates >= 0),
    counted_at   timestamptz not null
);
