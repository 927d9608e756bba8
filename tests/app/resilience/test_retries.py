"""Per-source resilience: retries of idempotent reads (backoff, Retry-After, the deadline)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.http.context import request_deadline
from adapters.settings import BreakerSettings, RetrySettings
from kernel.errors import (
    CircuitOpen,
    UpstreamContractError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tests.app.resilience.resilience_kit import (
    SOURCE,
    Events,
    Sleeps,
    Upstream,
    deadline_in,
    fail,
    policy,
    unavailable,
)

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
