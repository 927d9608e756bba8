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

Fair share: inside its bulkhead slot, a call takes a token of the source's call rate
(``app.resilience.upstream_rate``, when the source has one), and its outcome is told to the
sharing: an agent's answered call's latency to ``app.resilience.agent_latency``, an
analyst's to their lane's adaptive limit (``app.resilience.analyst_lane``), and a 429 to the
rate, which then pauses analysts first.

The first failure tells the truth: a breaker that opened inside the request under way (its
own retries or sibling panels failed often enough) would answer the rest of that request
with ``CIRCUIT_OPEN``, hiding why. Within one request, a call the breaker refuses after
the request has seen the source fail raises that failure instead
(``adapters.http.context.request_failures``); later requests get ``CIRCUIT_OPEN``.

The breaker is ``app.resilience.breaker``, the bulkhead ``app.resilience.bulkhead``; this
module holds the policy that puts them and the retries around each call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_random_exponential

from adapters.http.client import Attempt
from adapters.http.context import request_failures, time_left
from adapters.registry import SOURCES
from adapters.settings import RetrySettings, SourceSettings
from app.resilience.agent_latency import AgentLatency
from app.resilience.breaker import CircuitBreaker, Permit
from app.resilience.bulkhead import Bulkhead
from app.resilience.events import BreakerState, Clock, ResilienceEvents, SharingSnapshot, Sleep
from app.resilience.fair_share import TrafficClass, traffic_class
from app.resilience.upstream_rate import UpstreamRate
from kernel.errors import (
    CircuitOpen,
    UpstreamBusy,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import Source

__all__ = ["Resilience", "SourceResilience", "SourceSections", "resilience_for"]

logger = logging.getLogger(__name__)

# --- the policy ----------------------------------------------------------------------------


#: Seconds left before the deadline under which a timeout is the request's, not the source's.
OUT_OF_TIME_SECONDS = 0.05


def _out_of_time(error: UpstreamError) -> bool:
    """A timeout that came because the request's deadline did: an analyst's call that queued
    until little time was left times out whatever the source's load, and counting that as
    overload would shrink the lane that made it queue (a spiral)."""
    if not isinstance(error, UpstreamTimeout):
        return False
    left = time_left()
    return left is not None and left <= OUT_OF_TIME_SECONDS


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
        agent_latency: AgentLatency | None = None,
        processes: int = 1,
    ) -> None:
        self.source = source
        self._retry: RetrySettings = settings.retry
        self._events = events
        self._sleep = sleep
        self._clock = clock
        self.breaker = CircuitBreaker(
            source, settings.breaker, clock=clock, on_change=self._breaker_changed
        )
        self.bulkhead = Bulkhead(source, settings.bulkhead, settings.fair_share, clock=clock)
        self._quiet_seconds = settings.fair_share.agents_quiet_seconds
        self.agent_latency = agent_latency or AgentLatency(
            baseline_window_seconds=settings.fair_share.baseline_window_seconds, clock=clock
        )
        self.rate = (
            None
            if settings.rate_limit.per_second is None
            else UpstreamRate(
                source, settings.rate_limit, processes=processes, clock=clock, sleep=sleep
            )
        )
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
        analyst = traffic_class.get() is TrafficClass.ANALYST
        try:
            permit = self.breaker.admit()
        except CircuitOpen:
            seen = request_failures.get()
            cause = seen.first(self.source) if seen is not None else None
            if cause is not None:
                # The failure as the source gave it, with its own cause kept.
                raise cause from cause.__cause__
            raise
        try:
            async with self.bulkhead.slot():
                if self.rate is not None:
                    await self.rate.take(analyst=analyst)
                result = await self._timed(attempt, analyst=analyst)
        except UpstreamBusy:
            self.breaker.release(permit)
            if self._events is not None:
                self._events.bulkhead_rejected(self.source)
            raise
        except UpstreamUnavailable as exc:
            self._outcome(permit, failed=True)
            seen = request_failures.get()
            if seen is not None:
                seen.note(self.source, exc)
            raise
        except UpstreamError:
            self._outcome(permit, failed=False)
            raise
        except BaseException:
            self.breaker.release(permit)
            raise
        self._outcome(permit, failed=False)
        return result

    async def _timed(self, attempt: Attempt, *, analyst: bool) -> Any:
        """The attempt, its latency and outcome told to the sharing between classes."""
        started = self._clock()
        try:
            result = await attempt()
        except UpstreamError as exc:
            if isinstance(exc, UpstreamRateLimited) and self.rate is not None:
                self.rate.rate_limited(exc.retry_after)
            if not _out_of_time(exc):
                overloaded = isinstance(exc, UpstreamUnavailable)
                self._shared(analyst, self._clock() - started, overloaded=overloaded)
            raise
        # Cancelled or failed otherwise: says nothing of the source's load; not told.
        self._shared(analyst, self._clock() - started, overloaded=False)
        return result

    def _shared(self, analyst: bool, seconds: float, *, overloaded: bool) -> None:
        if analyst:
            ratio = self.agent_latency.ratio(self.source, self._quiet_seconds)
            self.bulkhead.analysts.finished(seconds, overloaded=overloaded, agents_ratio=ratio)
        elif not overloaded:
            self.agent_latency.observe(self.source, seconds)

    def sharing(self) -> SharingSnapshot:
        """The analysts' lane and the call rate now, for metrics."""
        lane = self.bulkhead.analysts
        refusals = {("analyst", "queue"): lane.counts.refused}
        if self.rate is not None:
            for kind, count in self.rate.refused.items():
                refusals[(kind, "rate")] = count
        return SharingSnapshot(
            limit=lane.size,
            queued=lane.queued,
            agents_ratio=round(lane.limit.agents_ratio, 3),
            source_ratio=round(lane.limit.own.ratio, 3),
            waits=lane.counts.waited,
            wait_seconds=lane.counts.wait_seconds,
            refusals=refusals,
        )

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
        agent_latency: AgentLatency | None = None,
        processes: int = 1,
    ) -> None:
        #: One for every source: agents' latency to each, shared with other processes.
        self.agent_latency = agent_latency or AgentLatency(clock=clock)
        self._events = events
        self._clock = clock
        self._processes = processes
        self.sources = {
            source: SourceResilience(
                source,
                section,
                events=events,
                clock=clock,
                agent_latency=self.agent_latency,
                processes=processes,
            )
            for source, section in sections.items()
        }

    def for_sections(self, sections: Mapping[Source, SourceSettings]) -> Resilience:
        """Policies of their own for another account's ``sections`` (a tenant's: its
        breakers and bulkheads are its account's), told to the same events and sharing
        agents' latency with these."""
        return Resilience(
            sections,
            events=self._events,
            clock=self._clock,
            agent_latency=self.agent_latency,
            processes=self._processes,
        )

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
            "analysts_queued": policy.bulkhead.analysts.queued,
        }


class SourceSections(Protocol):
    """Where each source's settings section is found (``app.settings.Settings``)."""

    def source(self, source: Source) -> SourceSettings:
        """The section of ``source``."""
        ...


def resilience_for(
    settings: SourceSections,
    events: ResilienceEvents | None = None,
    *,
    agent_latency: AgentLatency | None = None,
    processes: int = 1,
) -> Resilience:
    """The policies of every registered source, from their sections of ``settings``.

    ``agent_latency`` shares agents' latency with this instance's other processes;
    ``processes`` is how many of them share each source's call rate.
    """
    return Resilience(
        {spec.source: settings.source(spec.source) for spec in SOURCES},
        events=events,
        agent_latency=agent_latency,
        processes=processes,
    )
