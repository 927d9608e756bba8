"""The calls per second one source is sent, everyone's together, and who gives way first.

Vendors publish their limits (Stripe's and HubSpot's per second, Zendesk's per minute,
docs/limits.md); each source's section sets ``rate_limit.per_second`` from its vendor's,
and ``UpstreamRate`` keeps the sum of agents' and analysts' calls of this process under its
share (the instance's rate divided evenly among its processes). It is a token bucket of
``burst_seconds`` of the rate:

- an agent's call takes a token, waiting for the next one at most until its deadline;
- an analyst's call takes one only while more than ``1 - analyst_share`` of the bucket is
  left, so that a burst of agents always finds tokens, and waits otherwise (until its
  deadline, then ``UpstreamBusy``);
- when the source answers 429, analysts send it nothing until its Retry-After (or
  ``analyst_pause_seconds``) has passed, while agents go on with their retries: analysts
  back off first.

Hand-written rather than ``aiolimiter``'s leaky bucket: it has one class of caller, no
reserve for another, and reads the event loop's clock, where the tests drive a fake one.
"""

from __future__ import annotations

import asyncio
import time

from adapters.http.context import time_left
from adapters.settings import RateLimitSettings
from app.resilience.events import Clock, Sleep
from kernel.errors import UpstreamBusy
from kernel.models import Source

__all__ = ["UpstreamRate"]

BUSY = "the source's call rate is spent until past the request's deadline"


class UpstreamRate:
    """A token bucket of calls to one source, with a reserve that analysts never take."""

    def __init__(
        self,
        source: Source,
        settings: RateLimitSettings,
        *,
        processes: int = 1,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if settings.per_second is None:
            raise ValueError("an UpstreamRate needs rate_limit.per_second")
        self.source = source
        self.per_second = settings.per_second / max(1, processes)
        self.capacity = max(1.0, self.per_second * settings.burst_seconds)
        self._reserve = self.capacity * (1.0 - settings.analyst_share)
        self._pause = settings.analyst_pause_seconds
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.capacity
        self._at = clock()
        self.analysts_paused_until = 0.0
        #: Calls that waited for a token, and calls refused for want of one, by traffic
        #: class (metrics).
        self.waited = {"interactive": 0, "analyst": 0}
        self.refused = {"interactive": 0, "analyst": 0}

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        return now

    def _wait_for(self, analyst: bool) -> float:
        """Seconds until this caller may take a token (0: now)."""
        now = self._refill()
        floor = self._reserve if analyst else 0.0
        missing = floor + 1.0 - self._tokens
        wait = max(0.0, missing / self.per_second)
        if analyst:
            wait = max(wait, self.analysts_paused_until - now)
        return wait

    async def take(self, *, analyst: bool) -> None:
        """One token for a call, waited for until the deadline; ``UpstreamBusy`` past it."""
        kind = "analyst" if analyst else "interactive"
        wait = self._wait_for(analyst)
        if wait > 0:
            self.waited[kind] += 1
        while wait > 0:
            left = time_left()
            if left is not None and wait >= left:
                self.refused[kind] += 1
                raise UpstreamBusy(self.source, BUSY)
            await self._sleep(wait)
            # Others may have taken the tokens meanwhile: look again.
            wait = self._wait_for(analyst)
        self._tokens -= 1.0

    def rate_limited(self, retry_after: float | None) -> None:
        """The source answered 429: analysts pause for ``retry_after`` (or the default)."""
        pause = self._pause if retry_after is None else retry_after
        self.analysts_paused_until = max(self.analysts_paused_until, self._clock() + pause)
