"""Per-source resilience: the circuit breaker (consecutive failures, failure rate, half-open
probes), and the first failure of a request reported as its cause."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.http.context import RequestFailures, request_failures
from adapters.settings import BreakerSettings
from app.resilience.events import BreakerState
from app.resilience.policy import SourceResilience
from kernel.errors import (
    CircuitOpen,
    UpstreamContractError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.app.resilience.resilience_kit import (
    NO_RETRIES,
    SOURCE,
    Events,
    Upstream,
    fail,
    policy,
    state,
    succeed,
    unavailable,
)
from tests.fakes import ManualClock

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
