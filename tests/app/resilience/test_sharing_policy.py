"""A source's policy tells the sharing how calls went: agents' latency moves analysts' limit,
a 429 makes analysts back off first, and the state reaches /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from adapters.billing.settings import BillingSettings
from adapters.http.context import Deadline, request_deadline
from adapters.settings import FairShareSettings, RateLimitSettings, RetrySettings
from app.resilience.fair_share import TrafficClass, traffic_class
from app.resilience.policy import SourceResilience, resilience_for
from app.settings import Settings
from app.wiring.metrics import GatewayMetrics
from kernel.errors import UpstreamRateLimited, UpstreamTimeout
from kernel.models import Source

SOURCE = Source.BILLING


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@contextmanager
def as_analyst() -> Iterator[None]:
    token = traffic_class.set(TrafficClass.ANALYST)
    try:
        yield
    finally:
        traffic_class.reset(token)


@pytest.fixture(autouse=True)
def no_deadline() -> Iterator[None]:
    token = request_deadline.set(None)
    yield
    request_deadline.reset(token)


def policy(clock: FakeClock, **sections: object) -> SourceResilience:
    settings = BillingSettings(retry=RetrySettings(retries=0), **sections)  # type: ignore[arg-type]
    return SourceResilience(SOURCE, settings, clock=clock, sleep=clock.sleep)


def answering_in(clock: FakeClock, seconds: float):  # type: ignore[no-untyped-def]
    async def attempt() -> object:
        clock.now += seconds
        return {"ok": True}

    return attempt


async def test_agents_slowing_down_shrinks_the_analysts_limit() -> None:
    clock = FakeClock()
    subject = policy(clock, fair_share=FairShareSettings(initial_limit=16))
    for _ in range(5):
        await subject.call(answering_in(clock, 0.02), idempotent=True)
    with as_analyst():
        await subject.call(answering_in(clock, 0.02), idempotent=True)
    before = subject.bulkhead.analyst_size

    for _ in range(5):
        await subject.call(answering_in(clock, 0.08), idempotent=True)
    with as_analyst():
        await subject.call(answering_in(clock, 0.02), idempotent=True)

    assert subject.bulkhead.analyst_size < before
    assert subject.sharing().agents_ratio > 1.1


async def test_analysts_take_their_share_while_agents_are_calm() -> None:
    clock = FakeClock()
    subject = policy(clock, fair_share=FairShareSettings(initial_limit=2))
    for _ in range(5):
        await subject.call(answering_in(clock, 0.02), idempotent=True)

    with as_analyst():
        for _ in range(50):
            await subject.call(answering_in(clock, 0.02), idempotent=True)

    assert subject.bulkhead.analyst_size > 2


async def test_a_429_to_an_agent_pauses_analysts_and_halves_nothing_of_agents() -> None:
    clock = FakeClock()
    subject = policy(clock, rate_limit=RateLimitSettings(per_second=100))

    async def limited() -> object:
        raise UpstreamRateLimited(SOURCE, "429 from the source", retry_after=3.0)

    with pytest.raises(UpstreamRateLimited):
        await subject.call(limited, idempotent=True)
    await subject.call(answering_in(clock, 0.02), idempotent=True)
    assert clock.slept == []

    with as_analyst():
        await subject.call(answering_in(clock, 0.02), idempotent=True)

    assert sum(clock.slept) == pytest.approx(3.0, abs=0.05)


async def test_a_429_to_an_analyst_halves_their_limit() -> None:
    clock = FakeClock()
    subject = policy(clock, fair_share=FairShareSettings(initial_limit=8))

    async def limited() -> object:
        raise UpstreamRateLimited(SOURCE, "429 from the source", retry_after=None)

    with as_analyst(), pytest.raises(UpstreamRateLimited):
        await subject.call(limited, idempotent=True)

    assert subject.bulkhead.analyst_size == 4


def test_fair_share_state_reaches_metrics_by_source() -> None:
    metrics = GatewayMetrics.create(multiproc_dir="")
    resilience = resilience_for(Settings(), events=metrics.resilience)
    metrics.resilience.watch_sharing(resilience.sources.values())

    lines = metrics.exposition().decode().splitlines()

    for source in Source:
        assert f'scv_fair_share_limit{{source="{source.value}"}} 4.0' in lines
        assert f'scv_fair_share_queued{{source="{source.value}"}} 0.0' in lines
        assert f'scv_fair_share_waits_total{{source="{source.value}"}} 0.0' in lines
    assert (
        'scv_fair_share_refusals_total{reason="queue",source="BILLING",traffic_class="analyst"} 0.0'
        in lines
    )


def test_a_process_serving_no_analysts_shows_its_refusals_but_no_lanes() -> None:
    metrics = GatewayMetrics.create(multiproc_dir="")
    resilience = resilience_for(Settings(), events=metrics.resilience)
    metrics.resilience.watch_sharing(resilience.sources.values(), lanes=False)

    text = metrics.exposition().decode()

    assert 'scv_fair_share_limit{source="BILLING"}' not in text
    assert 'scv_fair_share_refusals_total{reason="rate",source="BILLING",' in text


async def test_an_analysts_call_timed_out_by_its_own_deadline_leaves_the_limit_alone() -> None:
    clock = FakeClock()
    subject = policy(clock, fair_share=FairShareSettings(initial_limit=8))

    async def out_of_time() -> object:
        request_deadline.set(Deadline.after(0))
        raise UpstreamTimeout(SOURCE, "no answer before the request's deadline")

    with as_analyst(), pytest.raises(UpstreamTimeout):
        await subject.call(out_of_time, idempotent=True)

    assert subject.bulkhead.analyst_size == 8


async def test_an_analysts_call_timed_out_by_the_source_halves_the_limit() -> None:
    clock = FakeClock()
    subject = policy(clock, fair_share=FairShareSettings(initial_limit=8))

    async def slow_source() -> object:
        raise UpstreamTimeout(SOURCE, "no answer in the read timeout")

    with as_analyst(), pytest.raises(UpstreamTimeout):
        await subject.call(slow_source, idempotent=True)

    assert subject.bulkhead.analyst_size == 4
