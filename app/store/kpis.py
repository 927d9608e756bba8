"""What the integration KPIs read of the store: sync runs since a time, by outcome; the
records they failed or found duplicate; webhook events' latency from received to applied."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from app.store.customers import Store
from kernel.integration_kpis import EventLatency, RecordVolume
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["KpiStore"]

_SYNC_RUNS_SINCE = """
select outcome, count(*) as runs from sync_runs
 where started_at >= $1 and ($2::text is null or tenant = $2)
 group by outcome
"""
# Per UTC day and source, from each run's counts (app.identity.sync): keys that did not
# normalise (failed records) and records whose rules found several customers (duplicates).
_RECORD_VOLUME_SINCE = """
select (r.started_at at time zone 'UTC')::date as day, c.key as source,
       sum(coalesce((c.value ->> 'skipped_invalid')::bigint, 0)) as failed,
       sum(coalesce((c.value ->> 'ambiguous')::bigint, 0)) as duplicates
  from sync_runs r cross join lateral jsonb_each(r.counts) c
 where r.started_at >= $1 and jsonb_typeof(c.value) = 'object'
   and ($2::text is null or r.tenant = $2)
 group by 1, 2
 order by 1, 2
"""
# grouping sets: the whole window per source (day null) and each UTC day per source, in one
# pass over the window's rows (webhook_events_received_at_idx).
_EVENT_LATENCY_SINCE = """
select source, (received_at at time zone 'UTC')::date as day, count(*) as events,
       percentile_cont(0.5) within group
           (order by extract(epoch from applied_at - received_at)) as p50,
       percentile_cont(0.99) within group
           (order by extract(epoch from applied_at - received_at)) as p99
  from webhook_events
 where received_at >= $1 and applied_at is not null and ($2::text is null or tenant = $2)
 group by grouping sets ((source), (source, (received_at at time zone 'UTC')::date))
 order by source, day nulls first
"""


class KpiStore:
    """Counts for ``app.kpis``, of ``tenant`` (None: every tenant's, the platform total)."""

    def __init__(self, store: Store, tenant: TenantId | None) -> None:
        self._store = store
        self._pool = store.pool
        self._tenant = tenant

    def scoped(self, tenant: TenantId | None) -> KpiStore:
        """The same counts, of ``tenant`` (None: the platform total)."""
        return KpiStore(self._store, tenant)

    async def sync_runs_since(self, since: datetime) -> Mapping[str, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SYNC_RUNS_SINCE, since, self._tenant)
        return {row["outcome"]: row["runs"] for row in rows}

    async def record_volume_since(self, since: datetime) -> tuple[RecordVolume, ...]:
        """Failed and duplicate records of the sync runs started since, per day and source."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_RECORD_VOLUME_SINCE, since, self._tenant)
        known = {source.value for source in Source}
        return tuple(
            RecordVolume(
                source=Source(row["source"]),
                failed=row["failed"],
                duplicates=row["duplicates"],
                day=row["day"],
            )
            for row in rows
            if row["source"] in known
        )

    async def event_latency_since(self, since: datetime) -> tuple[EventLatency, ...]:
        """Webhook events received since, per source: over the window (``day`` None) and
        per UTC day, with the p50 and p99 seconds from received to applied."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_EVENT_LATENCY_SINCE, since, self._tenant)
        return tuple(
            EventLatency(
                source=Source(row["source"]),
                events=row["events"],
                p50_seconds=row["p50"],
                p99_seconds=row["p99"],
                day=row["day"],
            )
            for row in rows
        )
