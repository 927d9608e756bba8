"""Builds live changes for ``create_app``: the engine's channel (PostgreSQL LISTEN/NOTIFY on
the store's database, or Redis pub/sub), this process's hub, and ``LiveChanges`` over them."""

from __future__ import annotations

from contextlib import AsyncExitStack

from app.live.channels import EventChannel, RedisChannel
from app.live.hub import LiveHub
from app.live.metrics import LiveMetrics
from app.live.service import LiveChanges
from app.live.settings import LiveSettings
from app.store.customers import Store
from app.store.notifications import PostgresChannel


async def start_live(
    settings: LiveSettings,
    stack: AsyncExitStack,
    store: Store,
    database_url: str,
    metrics: LiveMetrics,
) -> LiveChanges | None:
    """Live changes, listening (None when turned off); closed with ``stack``."""
    if not settings.enabled:
        return None
    channel: EventChannel
    if settings.chosen_backend() == "redis":
        if settings.redis_url is None:
            raise ValueError("SCV_LIVE__BACKEND=redis needs SCV_LIVE__REDIS_URL")
        channel = RedisChannel(settings.redis_url.get_secret_value(), settings.channel)
    else:
        channel = PostgresChannel(store.pool, database_url, settings.channel)
    hub = LiveHub(
        metrics,
        queue_size=settings.queue_size,
        max_per_principal=settings.max_subscriptions_per_principal,
    )
    live = LiveChanges(hub, channel, store, metrics)
    stack.push_async_callback(live.close)
    await live.start()
    return live
