"""The circuit breaker of one source: closed, open, half open, by failures in a window."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from adapters.settings import BreakerSettings
from app.resilience.events import BreakerState, Clock
from kernel.errors import CircuitOpen
from kernel.models import Source

logger = logging.getLogger(__name__)


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
