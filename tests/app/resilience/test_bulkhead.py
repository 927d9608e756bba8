"""Per-source resilience: the bulkhead (a bounded wait for a free slot, then busy)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.settings import BreakerSettings, BulkheadSettings
from app.resilience.events import BreakerState
from kernel.errors import UpstreamBusy
from tests.app.resilience.resilience_kit import Events, Upstream, policy, state

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
