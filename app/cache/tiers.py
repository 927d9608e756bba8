"""Where the response cache keeps entries: in-process memory, or Redis behind a local tier.

Both tiers keep three kinds of key (built by ``app.cache.response_cache``): entries, one generation
number
per source record (part of every entry key, so that bumping it invalidates all the record's
entries at once), and short refresh leases (so a stale entry is refreshed by one process).

``MemoryTier`` is aiocache's ``SimpleMemoryCache``: one process, entries as objects.

``RedisTier`` is aiocache's ``RedisCache`` shared by every gateway process, with a small,
short-lived ``LocalTier`` in front of it so that the hottest records cost no round trip.
Redis is optional at run time: every command has a bounded timeout, and a failure is logged,
counted and answered as a miss (reads) or skipped (writes), after which Redis is left alone
for ``redis_retry_seconds`` so a dead Redis costs one timeout per period, not per request.
Invalidations are published on a channel that every process listens to, so each drops the
record from its local tier at once; a process that loses its subscription clears its local
tier, having perhaps missed some.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as redis
from aiocache import RedisCache, SimpleMemoryCache
from aiocache.serializers import BaseSerializer
from pydantic import BaseModel
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.cache.codec import Entry, EntryCodec, UnreadableEntry
from app.cache.local import LocalTier
from app.cache.metrics import CacheMetrics
from app.cache.settings import CacheSettings

logger = logging.getLogger(__name__)

#: What every key of the cache starts with; versioned, so that a change of entry format can
#: never read an older version's entries.
KEY_PREFIX = "scv:cache:v1"
#: The pub/sub channel that carries record prefixes to drop from every local tier.
INVALIDATION_CHANNEL = f"{KEY_PREFIX}:invalidations"
#: How long one wait for an invalidation message lasts before the listener looks again.
LISTEN_POLL_SECONDS = 1.0


class CacheUnavailable(Exception):
    """The shared tier (Redis) did not answer; already logged and counted."""


class CacheTier(Protocol):
    """The storage under ``app.cache.response_cache.ResponseCache``."""

    async def get(self, key: str, model: type[BaseModel]) -> Entry | None:
        """The entry under ``key``, or None (absent, unreadable, or the tier is down)."""
        ...

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        """Keep ``entry`` under ``key`` for ``ttl`` seconds (best effort)."""
        ...

    async def generation(self, key: str) -> int:
        """The generation number under ``key`` (0 when none was ever set)."""
        ...

    @property
    def shares(self) -> bool:
        """Whether other processes see what ``set_shared`` keeps (Redis): when not, there
        is no point making the bytes."""
        ...

    async def get_shared(self, key: str) -> bytes | None:
        """The bytes every process shares under ``key`` (None: absent, unreadable, down, or
        a tier of one process, which shares nothing); for the whole-response cache."""
        ...

    async def set_shared(self, key: str, value: bytes, ttl: float) -> None:
        """Share ``value`` under ``key`` with every process for ``ttl`` seconds (best
        effort; a tier of one process keeps nothing)."""
        ...

    async def bump_generation(self, key: str, ttl: float, record_prefix: str) -> None:
        """Increase the generation under ``key`` and forget every entry under ``record_prefix``.

        Raises ``CacheUnavailable`` when the shared tier could not record it (the caller, a
        webhook, then fails so that the vendor sends the event again).
        """
        ...

    async def acquire_lease(self, key: str, ttl: float) -> bool:
        """Whether this process now holds the lease ``key`` (for at most ``ttl`` seconds)."""
        ...

    async def release_lease(self, key: str) -> None:
        """Give the lease back early."""
        ...

    async def clear(self) -> None:
        """Forget everything this tier holds (tests and operations)."""
        ...

    async def close(self) -> None:
        """Release connections and background tasks."""
        ...


class MemoryTier:
    """One process's cache: entries kept as objects, at most ``max_entries`` of them.

    Entries live in a ``LocalTier`` (least recently used goes first, each expires after its
    ttl, the largest being ``max_stale_if_error_seconds``): aiocache's memory backend has no
    size bound, and a gateway that sees a hundred thousand customers an hour must not keep
    them all. Generation counters and refresh leases stay in aiocache's ``SimpleMemoryCache``:
    they are few (one per record invalidated lately), and an LRU must never evict a counter,
    which would make entries of an older generation reachable again. Use Redis
    (``SCV_CACHE__URL``) for many processes.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        # The frozen models themselves are kept: nothing to copy or serialise.
        self._entries = LocalTier(max_entries, float("inf"))
        # No timeout: aiocache wraps every call in ``asyncio.wait_for`` (a task and a timer)
        # otherwise, 17 µs instead of 3 µs for a dictionary lookup that cannot hang.
        self._cache = SimpleMemoryCache(timeout=None)

    async def get(self, key: str, model: type[BaseModel]) -> Entry | None:
        entry = self._entries.get(key)
        return entry if isinstance(entry, Entry) else None

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        self._entries.put(key, entry, ttl)

    async def generation(self, key: str) -> int:
        return int(await self._cache.get(key, default=0))

    @property
    def shares(self) -> bool:
        return False

    async def get_shared(self, key: str) -> bytes | None:
        return None

    async def set_shared(self, key: str, value: bytes, ttl: float) -> None:
        return None

    async def bump_generation(self, key: str, ttl: float, record_prefix: str) -> None:
        await self._cache.increment(key)
        await self._cache.expire(key, ttl)

    async def acquire_lease(self, key: str, ttl: float) -> bool:
        try:
            await self._cache.add(key, True, ttl=ttl)
        except ValueError:
            return False
        return True

    async def release_lease(self, key: str) -> None:
        await self._cache.delete(key)

    async def clear(self) -> None:
        self._entries.clear()
        await self._cache.clear()

    async def close(self) -> None:
        await self._cache.close()

    def __len__(self) -> int:
        return len(self._entries)


class _RawBytes(BaseSerializer):  # type: ignore[misc]
    """Stores the codec's bytes as they are (aiocache would otherwise JSON-encode them)."""

    DEFAULT_ENCODING = None

    def dumps(self, value: Any) -> Any:
        return value

    def loads(self, value: Any) -> Any:
        return value


class RedisTier:
    """Redis shared by every gateway process, with a ``LocalTier`` in front of it."""

    def __init__(
        self,
        settings: CacheSettings,
        url: str,
        metrics: CacheMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._codec = EntryCodec(settings.encryption_key_bytes())
        self._local = LocalTier(settings.local_max_entries, settings.local_ttl_seconds)
        self._retry_seconds = settings.redis_retry_seconds
        self._clock = clock
        self._down_until = 0.0
        client = redis.Redis.from_url(
            url,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_connect_timeout_seconds,
            # No retries inside a command: a failure is answered at once, and Redis is then
            # left alone for a while (``_redis``), which bounds what a dead Redis costs.
            retry=Retry(NoBackoff(), retries=0),
        )
        # aiocache 0.12 builds its own pool from host and port only (no unix sockets, TLS or
        # socket timeouts); its backend reaches Redis only through ``client``, so it gets
        # the one built from the URL. ``timeout`` bounds each command once more, as a whole.
        self._cache = RedisCache(serializer=_RawBytes(), timeout=settings.redis_timeout_seconds)
        self._unused_client = self._cache.client
        self._cache.client = client
        self._client = client
        #: Invalidation messages received from any process, and an event set at each one
        #: (for tests, which wait until another process's invalidation has arrived).
        self.invalidations_received = 0
        self.invalidation_arrived = asyncio.Event()
        self._subscribed = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    async def start(self, *, wait_seconds: float) -> None:
        """Start listening for invalidations; wait up to ``wait_seconds`` to be subscribed."""
        await self._unused_client.aclose()
        self._listener = asyncio.create_task(self._listen(), name="scv-cache-invalidations")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                await self._subscribed.wait()

    async def get(self, key: str, model: type[BaseModel]) -> Entry | None:
        local = self._local.get(key)
        if isinstance(local, Entry):
            return local
        blob = await self._redis("get", self._cache.get(key))
        if not isinstance(blob, bytes):
            return None
        try:
            entry = self._codec.decode(key, blob, model)
        except UnreadableEntry as exc:
            self._metrics.unreadable_entries.labels(exc.reason).inc()
            logger.warning("unreadable cache entry treated as a miss (%s)", exc.reason)
            return None
        self._local.put(key, entry)
        return entry

    async def set(self, key: str, entry: Entry, ttl: float) -> None:
        self._local.put(key, entry, ttl)
        await self._redis("set", self._cache.set(key, self._codec.encode(key, entry), ttl=ttl))

    async def generation(self, key: str) -> int:
        local = self._local.get(key)
        if isinstance(local, int):
            return local
        seen = self.invalidations_received
        value = await self._redis("get", self._cache.get(key))
        try:
            number = int(value) if value is not None else 0
        except ValueError:
            number = 0
        # Kept locally only if Redis answered, and no invalidation arrived while it did
        # (that one may be newer than the answer).
        answered = value is not None or not self._is_down()
        if answered and seen == self.invalidations_received:
            self._local.put(key, number)
        return number

    @property
    def shares(self) -> bool:
        return True

    async def get_shared(self, key: str) -> bytes | None:
        blob = await self._redis("get", self._cache.get(key))
        if not isinstance(blob, bytes):
            return None
        try:
            return self._codec.open(key, blob)
        except UnreadableEntry as exc:
            self._metrics.unreadable_entries.labels(exc.reason).inc()
            logger.warning("unreadable shared value treated as a miss (%s)", exc.reason)
            return None

    async def set_shared(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis("set", self._cache.set(key, self._codec.seal(key, value), ttl=ttl))

    async def bump_generation(self, key: str, ttl: float, record_prefix: str) -> None:
        self._local.drop_prefix(record_prefix)
        await self._redis("increment", self._cache.increment(key), reraise=True)
        await self._redis("expire", self._cache.expire(key, int(ttl) + 1), reraise=True)
        await self._redis(
            "publish", self._client.publish(INVALIDATION_CHANNEL, record_prefix), reraise=True
        )

    async def acquire_lease(self, key: str, ttl: float) -> bool:
        if self._is_down():
            return True
        try:
            await self._redis("add", self._cache.add(key, b"1", ttl=ttl), reraise=True)
        except ValueError:
            return False
        except CacheUnavailable:
            # Without Redis, the refresh is this process's alone to do.
            return True
        return True

    async def release_lease(self, key: str) -> None:
        await self._redis("delete", self._cache.delete(key))

    async def clear(self) -> None:
        self._local.clear()
        await self._redis("clear", self._delete_every_cache_key())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._client.aclose()

    async def _delete_every_cache_key(self) -> None:
        # SCAN, not KEYS: Redis keeps serving the other processes while we walk.
        batch: list[bytes] = []
        async for key in self._client.scan_iter(match=f"{KEY_PREFIX}:*", count=500):
            batch.append(key)
            if len(batch) == 500:
                await self._client.delete(*batch)
                batch.clear()
        if batch:
            await self._client.delete(*batch)

    def _is_down(self) -> bool:
        return self._clock() < self._down_until

    async def _redis(
        self, operation: str, command: Awaitable[Any], *, reraise: bool = False
    ) -> Any:
        """``command``'s result; on a Redis failure: None (logged, counted, Redis rested)."""
        if self._is_down():
            if inspect.iscoroutine(command):
                command.close()  # never sent: no "coroutine was never awaited" warning
            if reraise:
                raise CacheUnavailable("the cache's Redis is resting after a failure")
            return None
        try:
            return await command
        except (RedisError, OSError, TimeoutError) as exc:
            self._metrics.redis_errors.labels(operation).inc()
            self._down_until = self._clock() + self._retry_seconds
            # The exception's type only: its text may name the host.
            logger.warning(
                "cache Redis %s failed (%s); in-process tier only for %.1f s",
                operation,
                type(exc).__name__,
                self._retry_seconds,
            )
            if reraise:
                raise CacheUnavailable(f"the cache's Redis {operation} failed") from None
            return None

    async def _listen(self) -> None:
        """Drop invalidated records from the local tier, as other processes announce them."""
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(INVALIDATION_CHANNEL)
                    # Anything announced while we were not listening is lost: start afresh.
                    self._local.clear()
                    self._subscribed.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=LISTEN_POLL_SECONDS
                        )
                        if message is not None and isinstance(message.get("data"), bytes):
                            self.invalidations_received += 1
                            self.invalidation_arrived.set()
                            self._local.drop_prefix(message["data"].decode())
            except (RedisError, OSError, TimeoutError) as exc:
                # The local tier carries on (its entries are short-lived); it is emptied
                # once subscribed again, having perhaps missed some invalidations.
                self._subscribed.clear()
                self._metrics.redis_errors.labels("subscribe").inc()
                logger.warning(
                    "cache invalidation subscription lost (%s); retrying", type(exc).__name__
                )
                await asyncio.sleep(max(self._retry_seconds, LISTEN_POLL_SECONDS))
