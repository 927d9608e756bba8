"""Per-source resilience: retries of idempotent reads, the circuit breaker, the bulkhead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.http.context import Deadline, RequestFailures, request_deadline, request_failures
from adapters.settings import BreakerSettings, BulkheadSettings, RetrySettings, SourceSettings
from app.resilience.events import BreakerState
from app.resilience.policy import SourceResilience
from kernel.errors import (
    CircuitOpen,
    UpstreamBusy,
    UpstreamContractError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import Source
from tests.fakes import ManualClock

SOURCE = Source.BILLING


class Events:
    """Records what the policy reports, as the metrics would count it."""

    def __init__(self) -> None:
        self.retries: list[str] = []
        self.transitions: list[tuple[str, str]] = []
        self.rejections = 0

    def retried(self, source: Source, error_code: str) -> None:
        self.retries.append(error_code)

    def breaker_changed(self, source: Source, old: str, new: str) -> None:
        self.transitions.append((old, new))

    def bulkhead_rejected(self, source: Source) -> None:
        self.rejections += 1


class Sleeps:
    """An injected sleep that records each wait and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Upstream:
    """An attempt that answers with each of ``outcomes`` in turn; counts its calls."""

    def __init__(self, *outcomes: Any) -> None:
        self._outcomes = list(outcomes)
        self.calls = 0

    async def __call__(self) -> Any:
        self.calls += 1
        outcome = self._outcomes[min(self.calls, len(self._outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable(SOURCE, "answered HTTP 503")


def policy(
    *,
    retry: RetrySettings | None = None,
    breaker: BreakerSettings | None = None,
    bulkhead: BulkheadSettings | None = None,
    events: Events | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleeps: Sleeps | None = None,
) -> SourceResilience:
    settings = SourceSettings(
        retry=retry or RetrySettings(),
        breaker=breaker or BreakerSettings(),
        bulkhead=bulkhead or BulkheadSettings(),
    )
    return SourceResilience(SOURCE, settings, events=events, clock=clock, sleep=sleeps or Sleeps())


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    token = request_deadline.set(Deadline.after(seconds))
    try:
        yield
    finally:
        request_deadline.reset(token)


NO_RETRIES = RetrySettings(retries=0)


def state(resilience: SourceResilience) -> BreakerState:
    """The breaker's state, read afresh (a call, so that type checkers do not narrow it)."""
    return resilience.breaker.state


async def fail(resilience: SourceResilience, error: UpstreamError, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(type(error)):
            await resilience.call(Upstream(error), idempotent=True)


async def succeed(resilience: SourceResilience, times: int = 1) -> None:
    for _ in range(times):
        assert await resilience.call(Upstream("ok"), idempotent=True) == "ok"


# --- retries -------------------------------------------------------------------------------


async def test_an_idempotent_read_is_retried_until_it_succeeds() -> None:
    upstream = Upstream(unavailable(), unavailable(), {"id": "cus_1"})
    assert await policy().call(upstream, idempotent=True) == {"id": "cus_1"}
    assert upstream.calls == 3


async def test_a_call_that_is_not_idempotent_is_never_retried() -> None:
    upstream = Upstream(unavailable(), "ok")
    with pytest.raises(UpstreamUnavailable):
        await policy().call(upstream, idempotent=False)
    assert upstream.calls == 1


async def test_retries_are_bounded_and_the_last_error_stands() -> None:
    upstream = Upstream(unavailable(), unavailable(), UpstreamTimeout(SOURCE, "no answer"))
    with pytest.raises(UpstreamTimeout):
        await policy(retry=RetrySettings(retries=2)).call(upstream, idempotent=True)
    assert upstream.calls == 3


@pytest.mark.parametrize(
    "error",
    [
        UpstreamNotFound(SOURCE, "answered HTTP 404"),
        UpstreamRejected(SOURCE, "answered HTTP 400"),
        UpstreamContractError(SOURCE, "customer payload failed validation"),
    ],
    ids=["not-found", "rejected", "contract"],
)
async def test_an_answer_that_is_not_unavailability_is_not_retried(error: UpstreamError) -> None:
    upstream = Upstream(error, "ok")
    with pytest.raises(type(error)):
        await policy().call(upstream, idempotent=True)
    assert upstream.calls == 1


async def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    sleeps = Sleeps()
    retry = RetrySettings(retries=4, backoff_initial_seconds=0.1, backoff_max_seconds=0.3)
    upstream = Upstream(unavailable())
    with pytest.raises(UpstreamUnavailable):
        await policy(retry=retry, sleeps=sleeps).call(upstream, idempotent=True)
    assert len(sleeps.waits) == 4
    for wait, cap in zip(sleeps.waits, (0.1, 0.2, 0.3, 0.3), strict=True):
        assert 0 <= wait <= cap


async def test_retry_after_of_a_429_is_waited_when_it_fits_the_deadline() -> None:
    sleeps = Sleeps()
    upstream = Upstream(UpstreamRateLimited(SOURCE, "answered HTTP 429", retry_after=0.3), "ok")
    with deadline_in(5.0):
        assert await policy(sleeps=sleeps).call(upstream, idempotent=True) == "ok"
    assert sleeps.waits == [0.3]


async def test_retry_after_beyond_the_deadline_is_not_waited_and_the_429_stands() -> None:
    sleeps = Sleeps()
    upstream = Upstream(UpstreamRateLimited(SOURCE, "answered HTTP 429", retry_after=30), "ok")
    with deadline_in(5.0), pytest.raises(UpstreamRateLimited):
        await policy(sleeps=sleeps).call(upstream, idempotent=True)
    assert (upstream.calls, sleeps.waits) == (1, [])


async def test_retry_after_beyond_the_configured_maximum_is_not_waited() -> None:
    sleeps = Sleeps()
    retry = RetrySettings(retry_after_max_seconds=1.0)
    upstream = Upstream(UpstreamRateLimited(SOURCE, "answered HTTP 429", retry_after=2), "ok")
    with pytest.raises(UpstreamRateLimited):
        await policy(retry=retry, sleeps=sleeps).call(upstream, idempotent=True)
    assert (upstream.calls, sleeps.waits) == (1, [])


async def test_no_retry_is_made_once_the_deadline_has_passed() -> None:
    upstream_calls = 0

    async def slow_failure() -> Any:
        nonlocal upstream_calls
        upstream_calls += 1
        # As if this attempt took the rest of the request's time.
        deadline = request_deadline.get()
        assert deadline is not None
        deadline.expire()
        raise unavailable()

    with deadline_in(5.0), pytest.raises(UpstreamUnavailable):
        await policy().call(slow_failure, idempotent=True)
    assert upstream_calls == 1


async def test_a_call_with_no_time_left_fails_at_once_without_calling() -> None:
    upstream = Upstream("ok")
    with deadline_in(-0.001), pytest.raises(UpstreamTimeout):
        await policy().call(upstream, idempotent=True)
    assert upstream.calls == 0


async def test_each_retry_is_reported_with_the_error_that_caused_it() -> None:
    events = Events()
    upstream = Upstream(unavailable(), UpstreamTimeout(SOURCE, "no answer"), "ok")
    await policy(events=events).call(upstream, idempotent=True)
    assert events.retries == ["UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT"]


async def test_circuit_open_is_not_retried() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=1))
    await fail(resilience, unavailable())
    upstream = Upstream("ok")
    with pytest.raises(CircuitOpen):
        await resilience.call(upstream, idempotent=True)
    assert upstream.calls == 0


# --- circuit breaker -----------------------------------------------------------------------


async def test_the_breaker_opens_after_consecutive_failures() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=3), retry=NO_RETRIES)
    await fail(resilience, unavailable(), times=2)
    assert state(resilience) is BreakerState.CLOSED
    await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.OPEN


async def test_a_success_resets_the_consecutive_failures() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=3), retry=NO_RETRIES)
    await fail(resilience, unavailable(), times=2)
    await succeed(resilience)
    await fail(resilience, unavailable(), times=2)
    assert state(resilience) is BreakerState.CLOSED


async def test_an_open_breaker_fails_fast_without_calling_the_source() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=1), retry=NO_RETRIES)
    await fail(resilience, unavailable())
    upstream = Upstream("ok")
    with pytest.raises(CircuitOpen) as caught:
        await resilience.call(upstream, idempotent=True)
    assert upstream.calls == 0
    assert (caught.value.code, caught.value.source, caught.value.retryable) == (
        "CIRCUIT_OPEN",
        SOURCE,
        True,
    )


RATE = BreakerSettings(
    consecutive_failures=100, failure_rate=0.5, minimum_calls=4, window_seconds=10
)


async def test_the_breaker_opens_on_the_failure_rate_over_the_window() -> None:
    resilience = policy(breaker=RATE, retry=NO_RETRIES, clock=ManualClock())
    for _ in range(2):
        await succeed(resilience)
        await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.OPEN


async def test_the_failure_rate_needs_the_minimum_number_of_calls() -> None:
    resilience = policy(breaker=RATE, retry=NO_RETRIES, clock=ManualClock())
    await fail(resilience, unavailable())
    await succeed(resilience)
    await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.CLOSED


async def test_calls_older_than_the_window_no_longer_count() -> None:
    clock = ManualClock()
    resilience = policy(breaker=RATE, retry=NO_RETRIES, clock=clock)
    await succeed(resilience)
    await fail(resilience, unavailable())
    await succeed(resilience)
    clock.advance(11)
    await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.CLOSED


@pytest.mark.parametrize(
    "error",
    [
        UpstreamNotFound(SOURCE, "answered HTTP 404"),
        UpstreamRejected(SOURCE, "answered HTTP 403"),
        UpstreamContractError(SOURCE, "customer payload failed validation"),
    ],
    ids=["not-found", "rejected", "contract"],
)
async def test_answers_that_are_not_unavailability_never_open_the_breaker(
    error: UpstreamError,
) -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=2), retry=NO_RETRIES)
    await fail(resilience, error, times=5)
    assert state(resilience) is BreakerState.CLOSED


OPENS_FAST = BreakerSettings(consecutive_failures=1, open_seconds=5, half_open_probes=2)


async def opened(clock: ManualClock, events: Events | None = None) -> SourceResilience:
    resilience = policy(breaker=OPENS_FAST, retry=NO_RETRIES, clock=clock, events=events)
    await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.OPEN
    return resilience


async def test_after_its_open_time_the_breaker_is_half_open() -> None:
    clock = ManualClock()
    resilience = await opened(clock)
    clock.advance(4.9)
    assert state(resilience) is BreakerState.OPEN
    clock.advance(0.1)
    assert state(resilience) is BreakerState.HALF_OPEN


async def test_half_open_lets_only_its_probes_through() -> None:
    clock = ManualClock()
    resilience = await opened(clock)
    clock.advance(5)
    release = asyncio.Event()
    calls = 0

    async def held() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "ok"

    probes = [asyncio.create_task(resilience.call(held, idempotent=True)) for _ in range(2)]
    await asyncio.sleep(0)
    upstream = Upstream("ok")
    with pytest.raises(CircuitOpen):
        await resilience.call(upstream, idempotent=True)
    release.set()
    assert await asyncio.gather(*probes) == ["ok", "ok"]
    assert (calls, upstream.calls) == (2, 0)


async def test_one_failed_probe_reopens_the_breaker() -> None:
    clock = ManualClock()
    resilience = await opened(clock)
    clock.advance(5)
    await succeed(resilience)
    await fail(resilience, unavailable())
    assert state(resilience) is BreakerState.OPEN


async def test_enough_successful_probes_close_the_breaker() -> None:
    clock = ManualClock()
    events = Events()
    resilience = await opened(clock, events)
    clock.advance(5)
    await succeed(resilience)
    assert state(resilience) is BreakerState.HALF_OPEN
    await succeed(resilience)
    assert state(resilience) is BreakerState.CLOSED
    assert events.transitions == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]


async def test_a_cancelled_probe_gives_its_place_back() -> None:
    clock = ManualClock()
    resilience = policy(
        breaker=BreakerSettings(consecutive_failures=1, open_seconds=5, half_open_probes=1),
        retry=NO_RETRIES,
        clock=clock,
    )
    await fail(resilience, unavailable())
    clock.advance(5)

    async def hangs() -> Any:
        await asyncio.Event().wait()

    probe = asyncio.create_task(resilience.call(hangs, idempotent=True))
    await asyncio.sleep(0)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    await succeed(resilience)
    assert state(resilience) is BreakerState.CLOSED


async def test_a_late_failure_from_before_the_breaker_opened_does_not_move_it() -> None:
    clock = ManualClock()
    resilience = policy(breaker=OPENS_FAST, retry=NO_RETRIES, clock=clock)
    release = asyncio.Event()

    async def slow_failure() -> Any:
        await release.wait()
        raise unavailable()

    late = asyncio.create_task(resilience.call(slow_failure, idempotent=True))
    await asyncio.sleep(0)
    await fail(resilience, unavailable())
    clock.advance(5)
    await succeed(resilience)
    release.set()
    with pytest.raises(UpstreamUnavailable):
        await late
    assert state(resilience) is BreakerState.HALF_OPEN


async def test_a_disabled_breaker_never_opens() -> None:
    resilience = policy(
        breaker=BreakerSettings(enabled=False, consecutive_failures=1), retry=NO_RETRIES
    )
    await fail(resilience, unavailable(), times=3)
    upstream = Upstream("ok")
    assert await resilience.call(upstream, idempotent=True) == "ok"
    assert upstream.calls == 1


# --- bulkhead ------------------------------------------------------------------------------


async def test_a_call_beyond_the_bulkhead_waits_for_a_free_slot() -> None:
    resilience = policy(bulkhead=BulkheadSettings(max_concurrent=1, max_wait_seconds=60))
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "first"

    first = asyncio.create_task(resilience.call(held, idempotent=True))
    await asyncio.sleep(0)
    assert resilience.bulkhead_in_use == 1
    second = asyncio.create_task(resilience.call(Upstream("second"), idempotent=True))
    await asyncio.sleep(0)
    assert not second.done()
    release.set()
    assert list(await asyncio.gather(first, second)) == ["first", "second"]
    assert resilience.bulkhead_in_use == 0


async def test_a_full_bulkhead_answers_busy_after_its_bounded_wait() -> None:
    events = Events()
    resilience = policy(
        bulkhead=BulkheadSettings(max_concurrent=1, max_wait_seconds=0.01), events=events
    )
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "first"

    first = asyncio.create_task(resilience.call(held, idempotent=True))
    await asyncio.sleep(0)
    upstream = Upstream("second")
    with pytest.raises(UpstreamBusy) as caught:
        await resilience.call(upstream, idempotent=True)
    release.set()
    await first
    assert (upstream.calls, events.rejections) == (0, 1)
    assert (caught.value.code, caught.value.retryable) == ("UPSTREAM_BUSY", True)


async def test_a_full_bulkhead_with_no_wait_answers_busy_at_once_and_is_not_retried() -> None:
    resilience = policy(bulkhead=BulkheadSettings(max_concurrent=1, max_wait_seconds=0))
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "first"

    first = asyncio.create_task(resilience.call(held, idempotent=True))
    await asyncio.sleep(0)
    upstream = Upstream("second")
    with pytest.raises(UpstreamBusy):
        await resilience.call(upstream, idempotent=True)
    release.set()
    await first
    assert upstream.calls == 0


async def test_busy_does_not_count_against_the_breaker() -> None:
    resilience = policy(
        bulkhead=BulkheadSettings(max_concurrent=1, max_wait_seconds=0),
        breaker=BreakerSettings(consecutive_failures=1),
    )
    release = asyncio.Event()

    async def held() -> str:
        await release.wait()
        return "first"

    first = asyncio.create_task(resilience.call(held, idempotent=True))
    await asyncio.sleep(0)
    with pytest.raises(UpstreamBusy):
        await resilience.call(Upstream("second"), idempotent=True)
    release.set()
    await first
    assert state(resilience) is BreakerState.CLOSED


# --- the first failure of a request ----------------------------------------------------------


@contextmanager
def one_request() -> Iterator[None]:
    token = request_failures.set(RequestFailures())
    try:
        yield
    finally:
        request_failures.reset(token)


async def test_a_breaker_opened_by_the_request_itself_reports_the_real_cause() -> None:
    # Three attempts (two retries) and a breaker that opens after two failures: the third
    # attempt is refused by the breaker this very call opened.
    resilience = policy(breaker=BreakerSettings(consecutive_failures=2))
    upstream = Upstream(unavailable())
    with one_request(), pytest.raises(UpstreamUnavailable) as caught:
        await resilience.call(upstream, idempotent=True)
    assert caught.value.code == "UPSTREAM_UNAVAILABLE"
    assert state(resilience) is BreakerState.OPEN
    assert upstream.calls == 2


async def test_a_sibling_call_of_the_same_request_reports_the_cause_too() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=1), retry=NO_RETRIES)
    with one_request():
        await fail(resilience, UpstreamTimeout(SOURCE, "no answer"))
        sibling = Upstream("ok")
        with pytest.raises(UpstreamTimeout):
            await resilience.call(sibling, idempotent=True)
    assert sibling.calls == 0


async def test_the_next_request_is_told_the_circuit_is_open() -> None:
    resilience = policy(breaker=BreakerSettings(consecutive_failures=1), retry=NO_RETRIES)
    with one_request():
        await fail(resilience, unavailable())
    with one_request(), pytest.raises(CircuitOpen):
        await resilience.call(Upstream("ok"), idempotent=True)
