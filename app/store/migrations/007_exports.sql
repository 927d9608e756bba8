-- Analysts' exports (issue 6): a job per startExport, worked by the gateway processes, and
-- its output in chunks. Applied once, in a transaction, by app.store.Store.migrate.
--
-- The output lives here rather than in files: a chunk, the job's cursor and its rows done
-- are written in one transaction, so a job resumed after a restart neither repeats nor
-- skips a row, and any gateway process (on any host) can serve any export.

create table export_jobs (
    id           text primary key,
    owner        text not null,
    owner_role   text not null,
    -- The CustomerFilter and the fields asked for, as app.exports serialises them.
    filter       jsonb not null,
    fields       text[] not null check (cardinality(fields) > 0),
    format       text not null check (format in ('NDJSON', 'CSV')),
    state        text not null default 'QUEUED'
                     check (state in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    rows_done    bigint not null default 0 check (rows_done >= 0),
    -- Counted when the job starts; set to rows_done when it succeeds.
    total_rows   bigint check (total_rows >= 0),
    -- Where the read model's stream resumes (None: from the start), and the next chunk's seq.
    cursor       text,
    chunks       integer not null default 0 check (chunks >= 0),
    -- The claim under way: a new token per claim fences off a worker presumed dead.
    claim_token  text,
    heartbeat_at timestamptz,
    -- Claims so far: a job that keeps killing its worker is failed, not retried forever.
    attempts     integer not null default 0,
    -- Why it failed, for the analyst: never personal data, never an upstream detail.
    error        text,
    created_at   timestamptz not null default now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    check ((state in ('SUCCEEDED', 'FAILED')) = (finished_at is not null))
);

-- Workers look for queued jobs, oldest first, and for running ones whose heartbeat stopped.
create index export_jobs_claimable_idx on export_jobs (state, created_at)
    where state in ('QUEUED', 'RUNNING');
-- Retention deletes finished jobs by age.
create index export_jobs_finished_idx on export_jobs (finished_at) where finished_at is not null;

create table export_chunks (
    job_id text not null references export_jobs (id) on delete cascade,
    seq    integer not null check (seq >= 0),
    rows   integer not null check (rows >= 0),
    body   text not null,
    primary key (job_id, seq)
);
