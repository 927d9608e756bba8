"""The bulkhead of one source: how many calls may be under way at once, analysts apart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.http.context import time_left
from adapters.settings import BulkheadSettings, FairShareSettings
from app.resilience.analyst_lane import AnalystLane
from app.resilience.events import Clock
from app.resilience.fair_share import TrafficClass, traffic_class
from kernel.errors import UpstreamBusy
from kernel.models import Source


class _Lane:
    """At most ``size`` calls at once; the excess waits up to ``max_wait`` (and the deadline).

    A thin layer over ``asyncio.Semaphore`` (which has no bounded acquire of its own).
    """

    def __init__(self, source: Source, size: int, max_wait: float) -> None:
        self.source = source
        self.size = size
        self._max_wait = max_wait
        self._semaphore = asyncio.Semaphore(size)
        self.in_use = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body; ``UpstreamBusy`` if none frees up in time."""
        if self._semaphore.locked():
            wait = self._max_wait
            left = time_left()
            if left is not None:
                wait = min(wait, left)
            if wait <= 0:
                raise UpstreamBusy(self.source, "too many calls to the source under way")
            try:
                async with asyncio.timeout(wait):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise UpstreamBusy(self.source, "too many calls to the source under way") from None
        else:
            await self._semaphore.acquire()
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            self._semaphore.release()


class Bulkhead:
    """Bounded calls to one source at once, in two lanes: analysts', and everyone else's.

    Everyone else (agents, supervisors, the IVR, the sync) has ``max_concurrent`` slots and
    waits at most ``max_wait_seconds`` for one, never past the request's deadline, then
    ``UpstreamBusy``. Analysts have a lane of their own (``app.resilience.analyst_lane``):
    its limit adapts to the load, up to ``analyst_max_concurrent``, and its queue refuses a
    call only when its wait would pass the deadline. The lane is the request's
    ``app.resilience.fair_share.traffic_class``. It keeps one slow source from taking every
    connection and task of the gateway while the others are fine. Two lanes rather than one
    pool with a cap for analysts: a slot an analyst could borrow is one an agent would wait
    for, and an agent on a call must never queue behind an analyst's page of customers.
    """

    def __init__(
        self,
        source: Source,
        settings: BulkheadSettings,
        fair_share: FairShareSettings | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.source = source
        self._agents = _Lane(source, settings.max_concurrent, settings.max_wait_seconds)
        self.analysts = AnalystLane(
            source, settings, fair_share or FairShareSettings(), clock=clock
        )
        #: Slots of agents and everyone else (``/readyz``'s ``bulkhead_size``).
        self.size = settings.max_concurrent

    @property
    def in_use(self) -> int:
        """Slots taken now by everyone but analysts."""
        return self._agents.in_use

    @property
    def analyst_in_use(self) -> int:
        """Slots taken now by analysts."""
        return self.analysts.in_use

    @property
    def analyst_size(self) -> int:
        """The analysts' slots now (their lane's adaptive limit)."""
        return self.analysts.size

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot of the request's lane for the body; ``UpstreamBusy`` if none frees up."""
        lane = self.analysts if traffic_class.get() is TrafficClass.ANALYST else self._agents
        async with lane.slot():
            yield
