"""The analysts' lane of one source: an adaptive limit, and a queue that refuses by deadline.

Analysts' calls to a source run at most ``AdaptiveLimit.value`` at once
(``app.resilience.adaptive_limit``); the rest wait in a first-come queue instead of being
refused at once. A call is refused (``UpstreamBusy``) only when its wait would pass its
request's deadline: at once when the expected wait already does (the calls ahead of it,
over the limit, times the calls' recent latency: Little's law), else when the deadline (or
``analyst_max_wait_seconds``, when set) comes while it still waits. A refused analyst thus
learns it in the time its answer was worth waiting for, no later.

The lane is told how each call went (``finished``): a success's latency and the agents'
latency ratio move the limit, an overload failure halves it, and every freed slot wakes the
next waiters the limit now allows.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.http.context import time_left
from adapters.settings import BulkheadSettings, FairShareSettings
from app.resilience.adaptive_limit import AdaptiveLimit
from app.resilience.events import Clock
from kernel.errors import UpstreamBusy
from kernel.models import Source

__all__ = ["AnalystLane", "LaneCounts"]

BUSY = "the analysts' share of the source is taken until past the request's deadline"


@dataclass(slots=True)
class LaneCounts:
    """What the lane has done since start-up (metrics read them)."""

    admitted: int = 0
    waited: int = 0
    wait_seconds: float = 0.0
    refused: int = 0


class AnalystLane:
    """Analysts' calls to one source: at most the adaptive limit at once, the rest queued."""

    def __init__(
        self,
        source: Source,
        bulkhead: BulkheadSettings,
        fair_share: FairShareSettings,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.source = source
        self._clock = clock
        self._max_wait = bulkhead.analyst_max_wait_seconds
        ceiling = bulkhead.analyst_max_concurrent
        self.limit = AdaptiveLimit(
            fair_share
            if fair_share.adaptive
            else fair_share.model_copy(update={"initial_limit": ceiling, "min_limit": ceiling}),
            ceiling,
        )
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.in_use = 0
        self.counts = LaneCounts()

    @property
    def size(self) -> int:
        """The limit now."""
        return self.limit.value

    @property
    def queued(self) -> int:
        """Analysts' calls waiting for the lane now."""
        return len(self._waiters)

    def expected_wait(self) -> float:
        """Seconds a call joining the queue now should wait, by Little's law."""
        ahead = len(self._waiters) + self.in_use - self.limit.value + 1
        if ahead <= 0:
            return 0.0
        round_trip = self.limit.own.recent or 0.0
        return ahead / self.limit.value * round_trip

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the lane's slots for the body; ``UpstreamBusy`` if none in time."""
        await self._acquire()
        try:
            yield
        finally:
            self.in_use -= 1
            self._wake()

    async def _acquire(self) -> None:
        if not self._waiters and self.in_use < self.limit.value:
            self.in_use += 1
            self.counts.admitted += 1
            return
        wait = time_left()
        if self._max_wait is not None:
            wait = self._max_wait if wait is None else min(wait, self._max_wait)
        if wait is not None and (wait <= 0 or self.expected_wait() >= wait):
            self.counts.refused += 1
            raise UpstreamBusy(self.source, BUSY)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        started = self._clock()
        try:
            async with asyncio.timeout(wait):
                await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # Handed a slot just as the wait ended: give the slot on.
                self.in_use -= 1
                self._wake()
            if isinstance(exc, TimeoutError):
                self.counts.refused += 1
                raise UpstreamBusy(self.source, BUSY) from None
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        # ``_wake`` counted this call in ``in_use`` when it handed the slot over.
        self.counts.admitted += 1
        self.counts.waited += 1
        self.counts.wait_seconds += self._clock() - started

    def _wake(self) -> None:
        """Hand freed slots to the first waiters, as many as the limit now allows."""
        while self._waiters and self.in_use < self.limit.value:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self.in_use += 1
            waiter.set_result(None)

    def finished(self, seconds: float, *, overloaded: bool, agents_ratio: float) -> None:
        """How one call that held a slot went: ``seconds`` long, failed by overload or not."""
        now = self._clock()
        if overloaded:
            self.limit.overloaded(now)
        else:
            self.limit.succeeded(now, seconds, agents_ratio)
        # A larger limit admits waiters now, not when the next call ends.
        self._wake()
