"""The hub: which subscribers an event reaches, bounded queues, and the limit per principal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from app.live.hub import LiveHub
from app.live.metrics import LiveMetrics
from kernel.access import Principal
from kernel.identity import CustomerId
from kernel.live import (
    CustomerChanged,
    Dropped,
    LiveEvent,
    SubscriptionLimitReached,
    customer_topic,
)
from kernel.models import Source

AGENT = Principal(subject="agent-1", role="agent")
ADA = CustomerId("cus-ada")
GRACE = CustomerId("cus-grace")


def change(customer: CustomerId, n: int = 0) -> CustomerChanged:
    return CustomerChanged(
        customer_id=customer,
        sources=(Source.CRM,),
        at=datetime(2026, 1, 1, 0, 0, n, tzinfo=UTC),
        received_at=0.0,
    )


def hub(registry: CollectorRegistry, queue_size: int = 4, limit: int = 3) -> LiveHub:
    return LiveHub(LiveMetrics.create(registry), queue_size=queue_size, max_per_principal=limit)


async def take(events: AsyncIterator[LiveEvent | Dropped]) -> LiveEvent | Dropped:
    return await asyncio.wait_for(anext(events), 5)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_an_event_reaches_the_subscribers_of_its_customer_only() -> None:
    registry = CollectorRegistry()
    live = hub(registry)
    async with (
        live.subscribe(AGENT, [customer_topic(ADA)], field="customerUpdated") as ada_events,
        live.subscribe(AGENT, [customer_topic(GRACE)], field="customerUpdated") as grace_events,
    ):
        assert live.deliver(change(ADA)) == 1
        assert await take(ada_events) == change(ADA)
        live.deliver(change(GRACE))
        assert await take(grace_events) == change(GRACE)
    assert live.deliver(change(ADA)) == 0


async def test_a_slow_subscriber_holds_at_most_its_queue_then_is_told_to_requery() -> None:
    registry = CollectorRegistry()
    live = hub(registry, queue_size=4)
    async with live.subscribe(AGENT, [customer_topic(ADA)], field="customerUpdated") as events:
        for n in range(10):
            live.deliver(change(ADA, n))
        # 0..3 fill the queue; 4 finds it full: those 5 make one marker. 5..7 fill it again
        # beside the marker; 8 overflows: 4 more dropped, one marker of 9; 9 fits after it.
        first = await take(events)
        then = await take(events)
    assert first == Dropped(count=9)
    assert then == change(ADA, 9)
    assert sample(registry, "scv_live_events_dropped_total", field="customerUpdated") == 9
    assert sample(registry, "scv_live_subscriptions_open", field="customerUpdated") == 0


async def test_a_subscriber_that_keeps_up_loses_nothing() -> None:
    registry = CollectorRegistry()
    live = hub(registry, queue_size=2)
    async with live.subscribe(AGENT, [customer_topic(ADA)], field="customerUpdated") as events:
        for n in range(6):
            live.deliver(change(ADA, n))
            assert await take(events) == change(ADA, n)
    assert sample(registry, "scv_live_events_fanned_out_total", field="customerUpdated") == 6
    assert sample(registry, "scv_live_events_dropped_total", field="customerUpdated") is None


async def test_a_principal_may_hold_only_so_many_subscriptions() -> None:
    registry = CollectorRegistry()
    live = hub(registry, limit=2)
    topic = [customer_topic(ADA)]
    async with live.subscribe(AGENT, topic, field="f"), live.subscribe(AGENT, topic, field="f"):
        with pytest.raises(SubscriptionLimitReached):
            async with live.subscribe(AGENT, topic, field="f"):
                pass
        # Another principal is not held to this one's count.
        async with live.subscribe(Principal("agent-2", "agent"), topic, field="f"):
            assert live.open == 3
    async with live.subscribe(AGENT, topic, field="f"):
        assert live.open == 1
    assert sample(registry, "scv_live_subscriptions_refused_total", reason="limit") == 1


async def test_after_a_gap_every_subscriber_is_told_to_requery() -> None:
    registry = CollectorRegistry()
    live = hub(registry)
    async with (
        live.subscribe(AGENT, [customer_topic(ADA)], field="customerUpdated") as ada_events,
        live.subscribe(AGENT, [customer_topic(GRACE)], field="customerUpdated") as grace_events,
    ):
        live.deliver(change(ADA, 1))
        live.deliver(change(ADA, 2))

        assert live.missed() == 2

        assert await take(ada_events) == Dropped(count=2)
        assert await take(grace_events) == Dropped(count=0)
        live.deliver(change(ADA, 3))
        assert await take(ada_events) == change(ADA, 3)
