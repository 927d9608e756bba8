"""Each source's calls per UTC day and tenant (``source_call_days`` of
``017_source_call_days.sql``, its tenant of ``020_kpis_per_tenant.sql``): batches of counts
added in one statement, and the days since a date read back, a tenant's or all added up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import asyncpg

from kernel.integration_kpis import SourceCallDay
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["CallDayKey", "SourceCallDayStore"]

# One statement per batch, whatever its size: the counts arrive as parallel arrays.
_ADD = """
insert into source_call_days as d
       (day, source, calls, errors, unavailable, contract_errors,
        shadow_agreed, shadow_disagreed, tenant)
select * from unnest($1::date[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                     $6::bigint[], $7::bigint[], $8::bigint[], $9::text[])
on conflict (day, source, tenant) do update
   set calls = d.calls + excluded.calls,
       errors = d.errors + excluded.errors,
       unavailable = d.unavailable + excluded.unavailable,
       contract_errors = d.contract_errors + excluded.contract_errors,
       shadow_agreed = d.shadow_agreed + excluded.shadow_agreed,
       shadow_disagreed = d.shadow_disagreed + excluded.shadow_disagreed
"""
# One tenant's days, or (tenant null) every tenant's added up: the platform total.
_SINCE = """
select day, source, sum(calls)::bigint as calls, sum(errors)::bigint as errors,
       sum(unavailable)::bigint as unavailable, sum(contract_errors)::bigint as contract_errors,
       sum(shadow_agreed)::bigint as shadow_agreed,
       sum(shadow_disagreed)::bigint as shadow_disagreed
  from source_call_days
 where day >= $1 and ($2::text is null or tenant = $2)
 group by day, source
 order by day, source
"""


#: A batch's key: the UTC day, the source, and the tenant the calls were made for.
CallDayKey = tuple[date, Source, TenantId]


class SourceCallDayStore:
    """Adds counted calls to their days; reads the days since a date, of ``tenant`` (None:
    every tenant's added up, the platform's total)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId | None = None) -> None:
        self._pool = pool
        self._tenant = tenant

    def scoped(self, tenant: TenantId | None) -> SourceCallDayStore:
        """The same days, read for ``tenant`` (None: the platform total)."""
        return SourceCallDayStore(self._pool, tenant)

    async def add(self, batch: Mapping[CallDayKey, SourceCallDay]) -> None:
        """Add ``batch``'s counts to their (day, source, tenant) rows (made when missing)."""
        if not batch:
            return
        keys = sorted(batch, key=lambda key: (key[0], key[1].value, key[2]))
        counts = [batch[key] for key in keys]
        async with self._pool.acquire() as conn:
            await conn.execute(
                _ADD,
                [day for day, _, _ in keys],
                [source.value for _, source, _ in keys],
                [c.calls for c in counts],
                [c.errors for c in counts],
                [c.unavailable for c in counts],
                [c.contract_errors for c in counts],
                [c.shadow_agreed for c in counts],
                [c.shadow_disagreed for c in counts],
                [tenant for _, _, tenant in keys],
            )

    async def days_since(self, since: date) -> tuple[SourceCallDay, ...]:
        """Every source's days from ``since`` on (sources this build lacks left out)."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SINCE, since, self._tenant)
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
