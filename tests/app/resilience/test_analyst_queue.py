"""The analysts' lane queues instead of refusing, and refuses only by deadline; the call rate
keeps a reserve for agents and makes analysts back off first on 429."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from adapters.http.context import Deadline, request_deadline
from adapters.settings import BulkheadSettings, FairShareSettings, RateLimitSettings
from app.resilience.analyst_lane import AnalystLane
from app.resilience.upstream_rate import UpstreamRate
from kernel.errors import UpstreamBusy
from kernel.models import Source

SOURCE = Source.BILLING


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def no_deadline() -> Iterator[None]:
    token = request_deadline.set(None)
    yield
    request_deadline.reset(token)


def lane(
    limit: int, clock: FakeClock | None = None, ceiling: int = 20, **bulkhead: float
) -> AnalystLane:
    return AnalystLane(
        SOURCE,
        BulkheadSettings(analyst_max_concurrent=ceiling, **bulkhead),  # type: ignore[arg-type]
        FairShareSettings(initial_limit=limit),
        clock=clock or FakeClock(),
    )


async def test_analysts_over_the_limit_wait_in_turn_instead_of_being_refused() -> None:
    subject = lane(1)
    order: list[int] = []
    release = asyncio.Event()

    async def analyst(n: int) -> None:
        async with subject.slot():
            order.append(n)
            await release.wait()

    first = asyncio.create_task(analyst(1))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(analyst(n)) for n in (2, 3)]
    await asyncio.sleep(0)
    assert (order, subject.queued) == ([1], 2)

    release.set()
    await asyncio.gather(first, *waiting)

    assert order == [1, 2, 3]
    assert subject.counts.refused == 0
    assert subject.counts.waited == 2


async def test_a_larger_limit_admits_waiters_at_once() -> None:
    clock = FakeClock()
    subject = lane(1, clock)
    holding = asyncio.Event()

    async def analyst() -> None:
        async with subject.slot():
            holding.set()
            await asyncio.Event().wait()

    holder = asyncio.create_task(analyst())
    await holding.wait()
    waiter = asyncio.create_task(analyst())
    await asyncio.sleep(0)
    assert subject.queued == 1

    # Calm answers raise the limit to 2: the waiter gets its slot before the holder ends.
    for _ in range(3):
        clock.now += 0.02
        subject.finished(0.02, overloaded=False, agents_ratio=1.0)
    await asyncio.sleep(0)

    assert (subject.queued, subject.in_use) == (0, 2)
    holder.cancel()
    waiter.cancel()
    await asyncio.gather(holder, waiter, return_exceptions=True)
    assert subject.in_use == 0


async def test_an_analyst_whose_wait_would_pass_the_deadline_is_refused_at_once() -> None:
    clock = FakeClock()
    subject = lane(1, clock, ceiling=1)
    # The source answers in a second: one call ahead means a second's wait.
    clock.now += 1.0
    subject.finished(1.0, overloaded=False, agents_ratio=1.0)

    async def second_analyst() -> None:
        async with subject.slot():
            pass

    async with subject.slot():
        request_deadline.set(Deadline.after(0.5))
        refused = asyncio.create_task(second_analyst())
        # One turn of the loop: a call that queued would still be waiting.
        await asyncio.sleep(0)
        assert refused.done()
        with pytest.raises(UpstreamBusy):
            await refused

    assert subject.counts.refused == 1
    assert subject.queued == 0


async def test_an_analyst_still_waiting_at_the_deadline_is_refused_then() -> None:
    subject = lane(1)

    async with subject.slot():
        request_deadline.set(Deadline.after(0.01))
        with pytest.raises(UpstreamBusy):
            async with subject.slot():
                pass

    assert (subject.counts.refused, subject.queued, subject.in_use) == (1, 0, 0)


async def test_a_cancelled_waiter_gives_its_place_up() -> None:
    subject = lane(1)
    release = asyncio.Event()

    async def analyst() -> str:
        async with subject.slot():
            await release.wait()
            return "served"

    first = asyncio.create_task(analyst())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(analyst())
    third = asyncio.create_task(analyst())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    release.set()

    assert await first == "served"
    assert await third == "served"
    assert subject.in_use == 0


def rate(clock: FakeClock, **settings: float) -> UpstreamRate:
    return UpstreamRate(
        SOURCE,
        RateLimitSettings(**settings),  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
    )


async def test_calls_beyond_the_rate_wait_for_the_next_token() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=10, burst_seconds=1)

    for _ in range(11):
        await subject.take(analyst=False)

    # Ten in the bucket, the eleventh a tenth of a second later.
    assert sum(clock.slept) == pytest.approx(0.1)


async def test_an_instances_rate_is_shared_by_its_processes() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=30, burst_seconds=1)
    shared = UpstreamRate(
        SOURCE, RateLimitSettings(per_second=30), processes=3, clock=clock, sleep=clock.sleep
    )

    assert (subject.per_second, shared.per_second) == (30, 10)


async def test_analysts_leave_the_reserve_of_the_bucket_to_agents() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=10, burst_seconds=1, analyst_share=0.5)
    for _ in range(5):
        await subject.take(analyst=True)
    assert clock.slept == []

    request_deadline.set(Deadline.after(0.05))
    with pytest.raises(UpstreamBusy):
        await subject.take(analyst=True)
    # The agents' reserve is still whole.
    for _ in range(5):
        await subject.take(analyst=False)
    assert clock.slept == []
    assert subject.refused == {"interactive": 0, "analyst": 1}


async def test_a_429_pauses_analysts_but_not_agents() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=100)

    subject.rate_limited(retry_after=2.0)
    await subject.take(analyst=False)
    assert clock.slept == []

    await subject.take(analyst=True)
    assert sum(clock.slept) == pytest.approx(2.0)


async def test_a_429_without_retry_after_pauses_analysts_the_configured_time() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=100, analyst_pause_seconds=0.5)

    subject.rate_limited(retry_after=None)
    await subject.take(analyst=True)

    assert sum(clock.slept) == pytest.approx(0.5)


async def test_a_paused_analyst_past_the_deadline_is_refused() -> None:
    clock = FakeClock()
    subject = rate(clock, per_second=100)
    subject.rate_limited(retry_after=30.0)
    request_deadline.set(Deadline.after(2.0))

    with pytest.raises(UpstreamBusy):
        await subject.take(analyst=True)
