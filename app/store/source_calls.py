"""Each source's calls per UTC day (``source_call_days`` of ``017_source_call_days.sql``):
batches of counts added in one statement, and the days since a date read back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import asyncpg

from kernel.integration_kpis import SourceCallDay
from kernel.models import Source

__all__ = ["SourceCallDayStore"]

# One statement per batch, whatever its size: the counts arrive as parallel arrays.
_ADD = """
insert into source_call_days as d
       (day, source, calls, errors, unavailable, contract_errors,
        shadow_agreed, shadow_disagreed)
select * from unnest($1::date[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[])
on conflict (day, source) do update
   set calls = d.calls + excluded.calls,
       errors = d.errors + excluded.errors,
       unavailable = d.unavailable + excluded.unavailable,
       contract_errors = d.contract_errors + excluded.contract_errors,
       shadow_agreed = d.shadow_agreed + excluded.shadow_agreed,
       shadow_disagreed = d.shadow_disagreed + excluded.shadow_disagreed
"""
_SINCE = """
select day, source, calls, errors, unavailable, contract_errors, shadow_agreed,
       shadow_disagreed
  from source_call_days
 where day >= $1
 order by day, source
"""


class SourceCallDayStore:
    """Adds counted calls to their days; reads the days since a date."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def add(self, batch: Mapping[tuple[date, Source], SourceCallDay]) -> None:
        """Add ``batch``'s counts to their (day, source) rows (made when missing)."""
        if not batch:
            return
        keys = sorted(batch, key=lambda key: (key[0], key[1].value))
        counts = [batch[key] for key in keys]
        async with self._pool.acquire() as conn:
            await conn.execute(
                _ADD,
                [day for day, _ in keys],
                [source.value for _, source in keys],
                [c.calls for c in counts],
                [c.errors for c in counts],
                [c.unavailable for c in counts],
                [c.contract_errors for c in counts],
                [c.shadow_agreed for c in counts],
                [c.shadow_disagreed for c in counts],
            )

    async def days_since(self, since: date) -> tuple[SourceCallDay, ...]:
        """Every source's days from ``since`` on (sources this build lacks left out)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SINCE, since)
        known = {source.value for source in Source}
        return tuple(
            SourceCallDay(
                source=Source(row["source"]),
                day=row["day"],
                calls=row["calls"],
                errors=row["errors"],
                unavailable=row["unavailable"],
                contract_errors=row["contract_errors"],
                shadow_agreed=row["shadow_agreed"],
                shadow_disagreed=row["shadow_disagreed"],
            )
            for row in rows
            if row["source"] in known
        )
