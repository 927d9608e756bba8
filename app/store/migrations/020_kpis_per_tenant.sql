-- The integration KPIs per tenant (issue 24's "per tenant where tenants exist",
-- docs/rollout.md, docs/tenancy.md): each source's calls per day, the duplicate candidates
-- per day, the open-ticket backlog and its daily trend belong to one tenant, as the sync
-- runs and webhook events already do (016). A supervisor reads its tenant's; a platform
-- operator its chosen tenant's, or the sum over every tenant (the platform total).
--
-- Rows counted before this belong to the default tenant, read from the configuration as
-- migration 016 reads it (the setting scv.default_tenant), and it becomes each column's
-- default: a writer that names no tenant writes the default tenant's rows.

do $$
declare
    default_tenant text := current_setting('scv.default_tenant');
    scoped text;
begin
    foreach scoped in array array[
        'source_call_days', 'duplicate_candidate_days', 'ticket_backlog', 'ticket_backlog_daily'
    ] loop
        execute format(
            'alter table %I add column tenant text not null default %L', scoped, default_tenant
        );
    end loop;
end
$$;

-- A day's figures are unique within their tenant; the tenant last, so that the platform
-- total (every tenant's rows of a day) reads the same leading columns.
alter table source_call_days drop constraint source_call_days_pkey,
    add primary key (day, source, tenant);

alter table duplicate_candidate_days drop constraint duplicate_candidate_days_pkey,
    add primary key (day, tenant);

alter table ticket_backlog drop constraint ticket_backlog_pkey,
    add primary key (tenant, source, ticket_id);

alter table ticket_backlog_daily drop constraint ticket_backlog_daily_pkey,
    add primary key (day, status, age_bucket, tenant);
