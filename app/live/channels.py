"""What carries live changes between gateway instances: PostgreSQL's NOTIFY (the store's
``PostgresChannel``) or, when Redis is configured, Redis pub/sub (``RedisChannel``).

Both are the engines' own fan-out, not a bus of ours: a publisher sends one message, every
instance listening (the publisher's own included) receives it once, and nothing is kept for
an instance that is not listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

#: How long one wait for a Redis message lasts (so that a lost connection is noticed).
LISTEN_POLL_SECONDS = 1.0


class EventChannel(Protocol):
    """One channel of an engine's pub/sub."""

    async def publish(self, payload: str) -> None:
        """Send ``payload`` to every listening instance."""
        ...

    async def start(
        self,
        on_message: Callable[[str], None],
        on_gap: Callable[[], None],
        within: float = 5.0,
    ) -> None:
        """Hand every payload received from now on to ``on_message``; call ``on_gap`` each
        time it listens again after losing its connection (what was sent meanwhile is lost).
        Returns once listening, or after ``within`` seconds, still trying."""
        ...

    async def close(self) -> None: ...


class RedisChannel:
    """Redis PUBLISH and SUBSCRIBE on one channel."""

    def __init__(self, url: str, channel: str) -> None:
        self._client = redis.Redis.from_url(url)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def publish(self, payload: str) -> None:
        await self._client.publish(self._channel, payload)

    async def start(
        self,
        on_message: Callable[[str], None],
        on_gap: Callable[[], None],
        within: float = 5.0,
    ) -> None:
        self._task = asyncio.create_task(self._listen(on_message, on_gap))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), within)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _listen(self, on_message: Callable[[str], None], on_gap: Callable[[], None]) -> None:
        lost = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._subscribed.set()
                    if lost:
                        on_gap()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=LISTEN_POLL_SECONDS
                        )
                        if message is not None and isinstance(message.get("data"), bytes):
                            on_message(message["data"].decode())
            except (RedisError, OSError, TimeoutError) as exc:
                lost = True
                self._subscribed.clear()
                logger.warning(
                    "live changes: Redis subscription lost (%s); retrying", type(exc).__name__
                )
                await asyncio.sleep(LISTEN_POLL_SECONDS)
