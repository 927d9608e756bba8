"""The data-quality duplicate candidates per UTC day (``duplicate_candidate_days`` of
``017_source_call_days.sql``): the day's last reading kept, the days since a date read."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from kernel.integration_kpis import DuplicateCandidates
from kernel.tenancy import TenantId

__all__ = ["DuplicateCandidateDays"]

# A reading older than the day's kept one (two processes, out of order) does not replace it.
_RECORD = """
insert into duplicate_candidate_days as d (day, candidates, counted_at, tenant)
values (($2::timestamptz at time zone 'UTC')::date, $1, $2, $3)
on conflict (day, tenant) do update
   set candidates = excluded.candidates, counted_at = excluded.counted_at
 where d.counted_at <= excluded.counted_at
"""
# One tenant's days, or (tenant null) every tenant's added up: the platform total.
_SINCE = """
select day, sum(candidates)::int as candidates from duplicate_candidate_days
 where day >= $1 and ($2::text is null or tenant = $2)
 group by day order by day
"""


class DuplicateCandidateDays:
    """Keeps a reading of ``tenant``'s duplicate candidates as its day's; reads the days
    since (``tenant`` None: every tenant's added up, and nothing to record)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId | None) -> None:
        self._pool = pool
        self._tenant = tenant

    def scoped(self, tenant: TenantId | None) -> DuplicateCandidateDays:
        """The same days, of ``tenant`` (None: the platform total)."""
        return DuplicateCandidateDays(self._pool, tenant)

    async def record(self, candidates: int, counted_at: datetime) -> None:
        if self._tenant is None:
            raise ValueError("a reading of the duplicate candidates is one tenant's")
        async with self._pool.acquire() as conn:
            await conn.execute(_RECORD, candidates, counted_at, self._tenant)

    async def days_since(self, since: date) -> tuple[DuplicateCandidates, ...]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SINCE, since, self._tenant)
        return tuple(DuplicateCandidates(row["day"], row["candidates"]) for row in rows)
