"""The data-quality duplicate candidates per UTC day (``duplicate_candidate_days`` of
``017_source_call_days.sql``): the day's last reading kept, the days since a date read."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from kernel.integration_kpis import DuplicateCandidates

__all__ = ["DuplicateCandidateDays"]

# A reading older than the day's kept one (two processes, out of order) does not replace it.
_RECORD = """
insert into duplicate_candidate_days as d (day, candidates, counted_at)
values (($2::timestamptz at time zone 'UTC')::date, $1, $2)
on conflict (day) do update
   set candidates = excluded.candidates, counted_at = excluded.counted_at
 where d.counted_at <= excluded.counted_at
"""
_SINCE = """
select day, candidates from duplicate_candidate_days where day >= $1 order by day
"""


class DuplicateCandidateDays:
    """Keeps a reading of the duplicate candidates as its day's; reads the days since."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def record(self, candidates: int, counted_at: datetime) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute(_RECORD, candidates, counted_at)

    async def days_since(self, since: date) -> tuple[DuplicateCandidates, ...]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SINCE, since)
        return tuple(DuplicateCandidates(row["day"], row["candidates"]) for row in rows)
