"""The engines that carry changes between instances, for real: PostgreSQL's LISTEN/NOTIFY
and Redis pub/sub. Two ``LiveChanges`` over one engine stand for two gateway instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from app.live.channels import EventChannel, RedisChannel
from app.live.hub import LiveHub
from app.live.metrics import LiveMetrics
from app.live.service import LiveChanges
from app.store.customers import Store
from app.store.notifications import PostgresChannel
from kernel.access import Principal
from kernel.identity import CustomerId
from kernel.live import CustomerChanged, Dropped, customer_topic
from kernel.models import Source
from tests.conftest import scratch_database

AGENT = Principal(subject="agent-1", role="agent")
AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


@asynccontextmanager
async def instance(
    store: Store, channel: EventChannel
) -> AsyncIterator[tuple[LiveChanges, CollectorRegistry]]:
    registry = CollectorRegistry()
    metrics = LiveMetrics.create(registry)
    live = LiveChanges(LiveHub(metrics, queue_size=8, max_per_principal=5), channel, store, metrics)
    await live.start()
    try:
        yield live, registry
    finally:
        await live.close()


async def reaches_the_other_instance(store: Store, channel: Callable[[], EventChannel]) -> None:
    async with (
        instance(store, channel()) as (heard_by_a, registry_a),
        instance(store, channel()) as (serving_b, registry_b),
    ):
        ada = CustomerId("cus-ada")
        topic = [customer_topic(ada)]
        async with serving_b.subscribe(AGENT, topic, field="customerUpdated") as events:
            event = CustomerChanged(
                customer_id=ada, sources=(Source.BILLING,), at=AT, received_at=1.0
            )
            await heard_by_a.publish(event)
            assert await asyncio.wait_for(anext(events), 10) == event
        assert (
            registry_a.get_sample_value("scv_live_events_published_total", {"kind": "customer"})
            == 1
        )
        assert (
            registry_b.get_sample_value("scv_live_events_received_total", {"kind": "customer"}) == 1
        )


async def test_postgres_notify_carries_an_event_to_the_other_instance(database_url: str) -> None:
    async with AsyncExitStack() as resources:
        url = await resources.enter_async_context(scratch_database(database_url, "live"))
        store = await Store.connect(url, pool_size=2)
        resources.push_async_callback(store.close)
        await reaches_the_other_instance(
            store, lambda: PostgresChannel(store.pool, url, "scv_live")
        )


async def test_redis_pub_sub_carries_an_event_to_the_other_instance(
    store: Store, redis_url: str
) -> None:
    await reaches_the_other_instance(store, lambda: RedisChannel(redis_url, "scv_live_test"))


async def test_a_lost_listen_connection_is_made_again(database_url: str) -> None:
    async with AsyncExitStack() as resources:
        url = await resources.enter_async_context(scratch_database(database_url, "live"))
        store = await Store.connect(url, pool_size=2)
        resources.push_async_callback(store.close)
        channel = PostgresChannel(store.pool, url, "scv_live")
        async with instance(store, channel) as (live, _):
            ada = CustomerId("cus-ada")
            async with live.subscribe(AGENT, [customer_topic(ada)], field="f") as events:
                # The server drops the listener (a failover, an administrator, a restart).
                async with store.pool.acquire() as conn:
                    dropped = await conn.fetchval(
                        "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                        "where datname = current_database() and query like 'LISTEN %'"
                    )
                assert dropped == 1
                event = CustomerChanged(
                    customer_id=ada, sources=(Source.CRM,), at=AT, received_at=1.0
                )
                # Listening again, it tells the subscriber that events may have been lost.
                told = await asyncio.wait_for(anext(events), 15)
                assert told == Dropped(count=0)
                await live.publish(event)
                assert await asyncio.wait_for(anext(events), 10) == event
