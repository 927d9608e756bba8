"""Per-source resilience: retries of idempotent reads, a circuit breaker and a bulkhead.

Each source gets one ``SourceResilience``: the ``adapters.http.client.CallPolicy`` that every HTTP
call of its adapter goes through. One call is::

    retries (idempotent reads only, tenacity)
      └── each attempt: breaker admits? -> bulkhead slot (bounded wait) -> send -> breaker told

The request's deadline (``adapters.http.context.request_deadline``) bounds every wait here: a
backoff or a Retry-After that would not fit in the time left is not waited for (the last error
stands), and a bulkhead slot is awaited at most until the deadline.

What the breaker counts as a failure: ``UpstreamUnavailable`` from the source (timeouts,
connection failures, 5xx, and 429: a source that rate-limits us is asking for fewer calls,
and an open breaker gives it exactly that). A 404, another 4xx or a payload of the wrong
shape is an answer: the source is up, so those count as successes. A cancelled attempt (a
sibling panel failed, the client went away) says nothing about the source and counts as
nothing. ``CircuitOpen`` and ``UpstreamBusy`` are never retried: they exist to shed load.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from adapters.http.client import Attempt
from adapters.http.context import time_left
from adapters.registry import SOURCES
from adapters.settings import BreakerSettings, BulkheadSettings, RetrySettings, SourceSettings
from app.resilience.fair_share import TrafficClass, traffic_class
from kernel.errors import (
    CircuitOpen,
    UpstreamBusy,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import Source

__all__ = [
    "BreakerState",
    "Bulkhead",
    "CircuitBreaker",
    "Resilience",
    "ResilienceEvents",
    "SourceResilience",
    "resilience_for",
]

logger = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BreakerState(enum.StrEnum):
    """Where a circuit breaker is: calling the source, refusing to, or trying it again."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ResilienceEvents(Protocol):
    """Told of what the resilience layer does, for metrics (``GatewayMetrics`` is one)."""

    def retried(self, source: Source, error_code: str) -> None:
        """A call to ``source`` failed with ``error_code`` and is about to be retried."""
        ...

    def breaker_changed(self, source: Source, old: str, new: str) -> None:
        """The breaker of ``source`` went from state ``old`` to ``new``."""
        ...

    def bulkhead_rejected(self, source: Source) -> None:
        """A call to ``source`` found no free bulkhead slot in time."""
        ...


# --- circuit breaker -----------------------------------------------------------------------


class _Window:
    """Calls and failures over the last ``seconds``, counted in a few fixed-width buckets.

    Buckets, not one entry per call, so memory stays small however busy the source is.
    """

    BUCKETS = 20

    def __init__(self, seconds: float, clock: Clock) -> None:
        self._seconds = seconds
        self._width = seconds / self.BUCKETS
        self._clock = clock
        # [bucket start, calls, failures], oldest first.
        self._buckets: deque[list[float]] = deque()

    def add(self, failed: bool) -> None:
        now = self._clock()
        start = now - now % self._width
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0, 0])
        self._prune(now)
        self._buckets[-1][1] += 1
        if failed:
            self._buckets[-1][2] += 1

    def counts(self) -> tuple[int, int]:
        """Calls and failures within the window."""
        self._prune(self._clock())
        return int(sum(b[1] for b in self._buckets)), int(sum(b[2] for b in self._buckets))

    def clear(self) -> None:
        self._buckets.clear()

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] + self._width <= now - self._seconds:
            self._buckets.popleft()


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call: which breaker generation granted it, and whether as a probe."""

    generation: int
    probe: bool


class CircuitBreaker:
    """One source's circuit breaker: closed, open (fails fast), half-open (a few probes).

    Closed: every call goes through; it opens after ``consecutive_failures`` failures in a
    row, or when at least ``minimum_calls`` calls in the last ``window_seconds`` failed at
    ``failure_rate`` or more. Open: every call fails at once with ``CircuitOpen``. After
    ``open_seconds`` it lets ``half_open_probes`` calls through: one failure reopens it, all
    of them succeeding closes it.

    Written here rather than taken from a library: none is among the dependencies, and the
    usual ones (pybreaker, aiobreaker, purgatory) count only consecutive failures, not a
    failure rate over a window with a minimum number of calls. Every transition bumps a
    generation number, so that a late answer to a call admitted before the transition (a
    slow call finishing after the breaker opened) cannot move the new state.
    """

    def __init__(
        self,
        source: Source,
        settings: BreakerSettings,
        *,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState, BreakerState], None] | None = None,
    ) -> None:
        self.source = source
        self._settings = settings
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._generation = 0
        self._window = _Window(settings.window_seconds, clock)
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0
        self._probe_successes = 0

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose open time is over reads as half-open)."""
        self._end_open_time()
        return self._state

    def admit(self) -> Permit:
        """Leave for one call, or ``CircuitOpen`` if the breaker refuses it."""
        if not self._settings.enabled:
            return Permit(self._generation, probe=False)
        self._end_open_time()
        if self._state is BreakerState.OPEN:
            raise CircuitOpen(self.source, "circuit breaker is open after repeated failures")
        if self._state is BreakerState.HALF_OPEN:
            if self._probes_in_flight + self._probe_successes >= self._settings.half_open_probes:
                raise CircuitOpen(self.source, "circuit breaker is probing the source")
            self._probes_in_flight += 1
            return Permit(self._generation, probe=True)
        return Permit(self._generation, probe=False)

    def record(self, permit: Permit, *, failed: bool) -> None:
        """The outcome of a call made under ``permit``."""
        if not self._settings.enabled or permit.generation != self._generation:
            return
        if permit.probe:
            self._probes_in_flight -= 1
            if failed:
                self._move_to(BreakerState.OPEN)
                return
            self._probe_successes += 1
            if self._probe_successes >= self._settings.half_open_probes:
                self._move_to(BreakerState.CLOSED)
            return
        self._window.add(failed)
        self._consecutive = self._consecutive + 1 if failed else 0
        if failed and self._should_open():
            self._move_to(BreakerState.OPEN)

    def release(self, permit: Permit) -> None:
        """A call made under ``permit`` ended without an outcome (cancelled): forget it."""
        if permit.probe and permit.generation == self._generation:
            self._probes_in_flight -= 1

    def _should_open(self) -> bool:
        if self._consecutive >= self._settings.consecutive_failures:
            return True
        calls, failures = self._window.counts()
        return (
            calls >= self._settings.minimum_calls
            and failures / calls >= self._settings.failure_rate
        )

    def _end_open_time(self) -> None:
        if (
            self._state is BreakerState.OPEN
            and self._clock() - self._opened_at >= self._settings.open_seconds
        ):
            self._move_to(BreakerState.HALF_OPEN)

    def _move_to(self, new: BreakerState) -> None:
        old = self._state
        self._state = new
        self._generation += 1
        self._consecutive = 0
        self._window.clear()
        self._probes_in_flight = 0
        self._probe_successes = 0
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        log = logger.warning if new is BreakerState.OPEN else logger.info
        log(
            "circuit breaker changed state",
            extra={"source": self.source.value, "from": old.value, "to": new.value},
        )
        if self._on_change is not None:
            self._on_change(old, new)


# --- bulkhead ------------------------------------------------------------------------------


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
    waits at most ``max_wait_seconds`` for one; analysts have ``analyst_max_concurrent``
    slots of their own and wait at most ``analyst_max_wait_seconds`` (both never past the
    request's deadline), then ``UpstreamBusy``. The lane is the request's
    ``app.resilience.fair_share.traffic_class``. It keeps one slow source from taking every
    connection and task of the gateway while the others are fine. Two lanes rather than one
    pool with a cap for analysts: a slot an analyst could borrow is one an agent would wait
    for, and an agent on a call must never queue behind an analyst's page of customers.
    """

    def __init__(self, source: Source, settings: BulkheadSettings) -> None:
        self.source = source
        self._lanes = {
            TrafficClass.INTERACTIVE: _Lane(
                source, settings.max_concurrent, settings.max_wait_seconds
            ),
            TrafficClass.ANALYST: _Lane(
                source, settings.analyst_max_concurrent, settings.analyst_max_wait_seconds
            ),
        }
        #: Slots of agents and everyone else (``/readyz``'s ``bulkhead_size``).
        self.size = settings.max_concurrent

    @property
    def in_use(self) -> int:
        """Slots taken now by everyone but analysts."""
        return self._lanes[TrafficClass.INTERACTIVE].in_use

    @property
    def analyst_in_use(self) -> int:
        """Slots taken now by analysts."""
        return self._lanes[TrafficClass.ANALYST].in_use

    @property
    def analyst_size(self) -> int:
        """The analysts' slots."""
        return self._lanes[TrafficClass.ANALYST].size

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot of the request's lane for the body; ``UpstreamBusy`` if none frees up."""
        async with self._lanes[traffic_class.get()].slot():
            yield


# --- the policy ----------------------------------------------------------------------------


def _is_retryable(error: BaseException) -> bool:
    """Unavailability from the source; not the gateway's own load shedding."""
    return isinstance(error, UpstreamUnavailable) and not isinstance(
        error, CircuitOpen | UpstreamBusy
    )


class SourceResilience:
    """The ``CallPolicy`` of one source: retries around breaker, bulkhead and the call.

    Retries use tenacity: its wait and stop hooks take the Retry-After and deadline rules
    below without a hand-written loop. ``sleep`` is injectable so that tests can see the
    waits without waiting.
    """

    def __init__(
        self,
        source: Source,
        settings: SourceSettings,
        *,
        events: ResilienceEvents | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.source = source
        self._retry: RetrySettings = settings.retry
        self._events = events
        self._sleep = sleep
        self.breaker = CircuitBreaker(
            source, settings.breaker, clock=clock, on_change=self._breaker_changed
        )
        self.bulkhead = Bulkhead(source, settings.bulkhead)
        self._backoff = wait_random_exponential(
            multiplier=self._retry.backoff_initial_seconds, max=self._retry.backoff_max_seconds
        )

    @property
    def breaker_state(self) -> str:
        """The breaker's state, as metrics and ``/readyz`` show it."""
        return self.breaker.state.value

    @property
    def bulkhead_in_use(self) -> int:
        """Bulkhead slots taken now, analysts' not counted."""
        return self.bulkhead.in_use

    @property
    def bulkhead_analyst_in_use(self) -> int:
        """Slots of the analysts' bulkhead lane taken now."""
        return self.bulkhead.analyst_in_use

    async def call(self, attempt: Attempt, *, idempotent: bool) -> Any:
        """``attempt``, retried when it is idempotent and the failure and the time allow."""
        if not idempotent or self._retry.retries == 0:
            return await self._once(attempt)
        # The first attempt runs outside tenacity: most calls succeed, and building and
        # driving a retry loop for each of them was a measurable share of the gateway's CPU
        # per query (bench/). A retryable failure then enters the loop as its first attempt,
        # so attempts, waits and stops count exactly as if tenacity had made it.
        try:
            return await self._once(attempt)
        except Exception as exc:
            if not _is_retryable(exc):
                raise
            first_failure = exc
        replayed = False

        async def replay_then_retry(attempt: Attempt) -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                raise first_failure
            return await self._once(attempt)

        retrying = AsyncRetrying(
            sleep=self._sleep,
            retry=retry_if_exception(_is_retryable),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return await retrying(replay_then_retry, attempt)

    async def _once(self, attempt: Attempt) -> Any:
        left = time_left()
        if left is not None and left <= 0:
            # Out of time before calling: the source had no part in it, so no breaker count.
            raise UpstreamTimeout(self.source, "no time left before the request's deadline")
        permit = self.breaker.admit()
        try:
            async with self.bulkhead.slot():
                result = await attempt()
        except UpstreamBusy:
            self.breaker.release(permit)
            if self._events is not None:
                self._events.bulkhead_rejected(self.source)
            raise
        except UpstreamUnavailable:
            self._outcome(permit, failed=True)
            raise
        except UpstreamError:
            self._outcome(permit, failed=False)
            raise
        except BaseException:
            self.breaker.release(permit)
            raise
        self._outcome(permit, failed=False)
        return result

    def _outcome(self, permit: Permit, *, failed: bool) -> None:
        """Tell the breaker how a call went; of an analyst's, only a probe that succeeded.

        Analysts' calls queue for their lane up to their request's deadline and then run
        with whatever time is left, so their timeouts say more about their own queue than
        about the source: counted, they would open the breaker on agents' calls too. A
        source that is really down opens it through everyone else's calls; meanwhile the
        analysts' lane bounds what their calls can cost it. A half-open probe that an
        analyst's call answered is still proof the source is back, and helps close it.
        """
        if traffic_class.get() is TrafficClass.ANALYST and (failed or not permit.probe):
            self.breaker.release(permit)
            return
        self.breaker.record(permit, failed=failed)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(state))

    def _stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self._retry.retries:
            return True
        error = state.outcome.exception() if state.outcome is not None else None
        if (
            isinstance(error, UpstreamRateLimited)
            and error.retry_after is not None
            and error.retry_after > self._retry.retry_after_max_seconds
        ):
            return True
        left = time_left()
        # The wait must leave time for the attempt itself, or it is pointless.
        return left is not None and state.upcoming_sleep >= left

    def _before_sleep(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        if self._events is not None and isinstance(error, UpstreamError):
            self._events.retried(self.source, error.code)

    def _breaker_changed(self, old: BreakerState, new: BreakerState) -> None:
        if self._events is not None:
            self._events.breaker_changed(self.source, old.value, new.value)


class Resilience:
    """Every source's ``SourceResilience``, built once per app from the sources' settings."""

    def __init__(
        self,
        sections: Mapping[Source, SourceSettings],
        *,
        events: ResilienceEvents | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.sources = {
            source: SourceResilience(source, section, events=events, clock=clock)
            for source, section in sections.items()
        }

    def policy(self, source: Source) -> SourceResilience:
        """The policy of ``source``."""
        return self.sources[source]

    def snapshot(self, source: Source) -> dict[str, object]:
        """What ``/readyz`` shows of the source's breaker and bulkhead."""
        policy = self.sources[source]
        return {
            "breaker": policy.breaker_state,
            "bulkhead_in_use": policy.bulkhead_in_use,
            "bulkhead_size": policy.bulkhead.size,
            "bulkhead_analyst_in_use": policy.bulkhead.analyst_in_use,
            "bulkhead_analyst_size": policy.bulkhead.analyst_size,
        }


class SourceSections(Protocol):
    """Where each source's settings section is found (``app.settings.Settings``)."""

    def source(self, source: Source) -> SourceSettings:
        """The section of ``source``."""
        ...


def resilience_for(settings: SourceSections, events: ResilienceEvents | None = None) -> Resilience:
    """The policies of every registered source, from their sections of ``settings``."""
    return Resilience(
        {spec.source: settings.source(spec.source) for spec in SOURCES},
        events=events,
    )
