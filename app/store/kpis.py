"""What the integration KPIs read of the store: sync runs since a time, by outcome."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from app.store.customers import Store

__all__ = ["KpiStore"]

_SYNC_RUNS_SINCE = """
select outcome, count(*) as runs from sync_runs where started_at >= $1 group by outcome
"""


class KpiStore:
    """Counts for ``app.kpis``."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    async def sync_runs_since(self, since: datetime) -> Mapping[str, int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SYNC_RUNS_SINCE, since)
        return {row["outcome"]: row["runs"] for row in rows}
