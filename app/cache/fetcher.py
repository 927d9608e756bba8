"""How the response cache fills itself: single-flight fetches, storing, background refresh.

``ResponseCache`` (``app.cache.response_cache``) decides what to serve; ``CacheFetcher`` does
the fetching behind it. A key being fetched is fetched once, however many requests want it
(the others await the same task), and a batch read fetches only the ids nobody is fetching
yet. What a fetch returns is stored for as long as it may be served; a not-found is
remembered for ``not_found_seconds``. A stale entry is refreshed in the background once per
key in this process, and under a short lease in the shared tier so that only one process
refreshes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from adapters.http.context import Deadline, detached_context, request_deadline
from app.cache.codec import Entry
from app.cache.keys import entry_lifetime
from app.cache.metrics import CacheMetrics
from app.cache.settings import CacheSettings
from app.cache.tiers import CacheTier
from kernel.cache import CacheKey
from kernel.errors import UpstreamError, UpstreamNotFound

logger = logging.getLogger(__name__)

#: Longest a process holds the right to refresh one stale entry (it gives it back when done).
REFRESH_LEASE_SECONDS = 10.0

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Clock = Callable[[], float]


class CacheFetcher:
    """The fetches, stores and background refreshes of one ``ResponseCache``.

    It owns every task it starts: ``settle`` waits for them, ``close`` cancels them.
    ``clock`` (epoch seconds) dates the entries it stores.
    """

    def __init__(
        self,
        settings: CacheSettings,
        tier: CacheTier,
        metrics: CacheMetrics,
        *,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._tier = tier
        self._metrics = metrics
        self._clock = clock
        self._in_flight: dict[str, asyncio.Task[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    async def settle(self) -> None:
        """Wait until no fetch or background refresh is under way (tests, draining)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop background refreshes and shared fetches."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- fetching ----------------------------------------------------------------------------

    def fetch_once(
        self, key: CacheKey, storage_key: str, fetch: Callable[[], Awaitable[M]]
    ) -> asyncio.Task[Any]:
        """The fetch of ``storage_key`` under way, or a new one (single-flight)."""
        task = self._in_flight.get(storage_key)
        if task is None:
            task = self._spawn(self._fetch_and_store(key, storage_key, fetch))
            self._track_in_flight(storage_key, task)
        return task

    def fetch_batch_once(
        self,
        wanted: list[tuple[CacheKey, str]],
        fetch_many: Callable[[list[str]], Awaitable[Mapping[str, M]]],
    ) -> dict[str, asyncio.Task[Any]]:
        """One task per storage key: joined if under way, else from one new batch fetch."""
        tasks = {skey: self._in_flight[skey] for _, skey in wanted if skey in self._in_flight}
        new = [(key, skey) for key, skey in wanted if skey not in tasks]
        if new:
            batch = self._spawn(self._fetch_batch_and_store(new, fetch_many))
            for key, skey in new:
                task = self._spawn(_pick(batch, key))
                self._track_in_flight(skey, task)
                tasks[skey] = task
        return tasks

    async def _fetch_and_store(
        self, key: CacheKey, storage_key: str, fetch: Callable[[], Awaitable[M]]
    ) -> M:
        try:
            value = await fetch()
        except UpstreamNotFound as exc:
            await self._remember_not_found(storage_key, exc.message)
            raise
        await self._store(key, storage_key, value)
        return value

    async def _fetch_batch_and_store(
        self,
        wanted: list[tuple[CacheKey, str]],
        fetch_many: Callable[[list[str]], Awaitable[Mapping[str, M]]],
    ) -> Mapping[str, M]:
        found = await fetch_many([key.record_id for key, _ in wanted])
        for key, storage_key in wanted:
            value = found.get(key.record_id)
            if value is None:
                await self._remember_not_found(storage_key, "no such record")
            else:
                await self._store(key, storage_key, value)
        return found

    async def _store(self, key: CacheKey, storage_key: str, value: BaseModel) -> None:
        lifetime = entry_lifetime(self._settings, key)
        ttl = max(
            lifetime.fresh_seconds + lifetime.stale_seconds,
            self._settings.max_stale_if_error_seconds,
        )
        await self._tier.set(storage_key, Entry(fetched_at=self._clock(), value=value), ttl)

    async def _remember_not_found(self, storage_key: str, message: str) -> None:
        if self._settings.not_found_seconds > 0:
            entry = Entry(fetched_at=self._clock(), value=None, not_found_message=message)
            await self._tier.set(storage_key, entry, self._settings.not_found_seconds)

    # --- background refresh ------------------------------------------------------------------

    def refresh_in_background(
        self, key: CacheKey, storage_key: str, fetch: Callable[[], Awaitable[M]]
    ) -> None:
        """Refresh ``storage_key`` once, whoever else saw it stale meanwhile."""
        if storage_key in self._refreshing or storage_key in self._in_flight:
            return
        task = self._spawn(self._refresh(key, storage_key, fetch))
        self._refreshing[storage_key] = task
        task.add_done_callback(lambda _: self._refreshing.pop(storage_key, None))

    async def _refresh(
        self, key: CacheKey, storage_key: str, fetch: Callable[[], Awaitable[M]]
    ) -> None:
        # The task was started within a request and copied its deadline, but it is no part of
        # that answer: it gets its own, as long as its lease, so it never outlives the lease.
        request_deadline.set(Deadline.after(REFRESH_LEASE_SECONDS))
        lease = storage_key + ":lease"
        if not await self._tier.acquire_lease(lease, REFRESH_LEASE_SECONDS):
            outcome = "skipped"
        else:
            try:
                await asyncio.shield(self.fetch_once(key, storage_key, fetch))
                outcome = "ok"
            except UpstreamError as exc:
                outcome = exc.code
                # Still stale, still served; the next request after the lease tries again.
                logger.warning(
                    "background refresh of %s %s failed (%s)",
                    key.source.value,
                    key.resource,
                    exc.code,
                )
            finally:
                await self._tier.release_lease(lease)
        self._metrics.refreshes.labels(key.source.value, key.resource, outcome).inc()

    # --- bookkeeping -------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task this cache owns: kept referenced, cancelled on close, its error retrieved."""
        # Its own copy of the deadline: other requests may await it after the spawning one
        # has been answered (and its deadline expired).
        task = asyncio.create_task(coroutine, context=detached_context())
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            # Every waiter has the error already; this only stops asyncio's "never retrieved".
            task.exception()

    def _track_in_flight(self, storage_key: str, task: asyncio.Task[Any]) -> None:
        self._in_flight[storage_key] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if self._in_flight.get(storage_key) is done:
                del self._in_flight[storage_key]

        task.add_done_callback(forget)


async def _pick(batch: asyncio.Task[Mapping[str, M]], key: CacheKey) -> M:
    """``key``'s value from a batch fetch; ``UpstreamNotFound`` if the batch lacks it."""
    found = await asyncio.shield(batch)
    value = found.get(key.record_id)
    if value is None:
        raise UpstreamNotFound(key.source, "no such record")
    return value
