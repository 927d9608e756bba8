"""``SourceCallTally``: each source's calls counted per UTC day and tenant in memory, added to the
store's daily series (``app.store.source_calls``) in batches by a background flusher.

A row per call would cost a statement per upstream call on the request path; counting in
memory and adding the counts every ``SCV_KPIS__FLUSH_SECONDS`` costs one statement per
flush, whatever the traffic, and still adds up across processes and instances (each adds its
own counts to the same rows) and survives restarts. What a process counted since its last
flush is lost if it dies: at most one flush's worth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from app.rollout.window import ABORTED, CONTRACT, UNAVAILABLE
from kernel.integration_kpis import SourceCallDay
from kernel.models import Source
from kernel.tenancy import TenantId

logger = logging.getLogger(__name__)


#: A count's key: the UTC day, the source, and the tenant the call was made for.
CallKey = tuple[date, Source, TenantId]


class CallDayWriter(Protocol):
    """Where the counts go (``app.store.source_calls.SourceCallDayStore``)."""

    async def add(self, batch: Mapping[CallKey, SourceCallDay]) -> None: ...


class SourceCallTally:
    """Counts calls and shadow comparisons per (UTC day, source, tenant) until the next
    flush; ``tenant_now`` says which tenant the call under way is made for (the request's;
    the default tenant's outside any)."""

    def __init__(
        self,
        writer: CallDayWriter,
        *,
        tenant_now: Callable[[], TenantId],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._writer = writer
        self._now = now
        self._tenant_now = tenant_now
        self._pending: dict[CallKey, SourceCallDay] = {}
        # One flush at a time: a reader's flush waits for the one under way, so that what
        # it reads next includes this process's counts.
        self._flushing = asyncio.Lock()

    def observe_call(self, source: Source, seconds: float, error_code: str | None) -> None:
        """One upstream call (an observer of ``GatewayMetrics.observe_upstream``)."""
        del seconds  # the time is the rollout windows' (latency p99), not a daily figure
        if error_code == ABORTED:
            # Cancelled by the gateway itself: no sign of the source either way.
            return
        day = self._today()
        self._count(
            day,
            SourceCallDay(
                source,
                day=day,
                calls=1,
                errors=int(error_code is not None),
                unavailable=int(error_code in UNAVAILABLE),
                contract_errors=int(error_code == CONTRACT),
            ),
        )

    def observe_comparison(self, source: Source, agreed: bool) -> None:
        """One shadow comparison of ``source``."""
        day = self._today()
        self._count(
            day,
            SourceCallDay(
                source, day=day, shadow_agreed=int(agreed), shadow_disagreed=int(not agreed)
            ),
        )

    async def flush(self) -> None:
        """Add what was counted since the last flush; kept for the next one if it fails."""
        async with self._flushing:
            batch, self._pending = self._pending, {}
            try:
                await self._writer.add(batch)
            except BaseException:
                for key, counts in batch.items():
                    kept = self._pending.get(key)
                    self._pending[key] = counts if kept is None else counts + kept
                raise

    async def run(self, every_seconds: float) -> None:
        """Flush every ``every_seconds`` until cancelled; a failed flush is tried again."""
        while True:
            await asyncio.sleep(every_seconds)
            try:
                await self.flush()
            except Exception:
                logger.warning("could not add the sources' call counts; trying again")

    def _today(self) -> date:
        return self._now().astimezone(UTC).date()

    def _count(self, day: date, counts: SourceCallDay) -> None:
        """Add ``counts`` (dated ``day`` by the caller: ``dataclasses.replace`` on every
        upstream call was a visible share of a cold view's calls, ``make bench-calls``)."""
        key = (day, counts.source, self._tenant_now())
        kept = self._pending.get(key)
        self._pending[key] = counts if kept is None else kept + counts
