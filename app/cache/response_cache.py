"""The response cache: fresh, stale-while-revalidate, stale-if-error, single-flight misses.

Every read the panels make goes through ``ResponseCache.get`` (or ``get_many`` for a batch
read), keyed by source, record id, resource and variant (``CacheKey``):

- fresh (younger than the resource's ``fresh_seconds``): served, ``HIT``;
- stale (within ``stale_seconds`` more): served at once, ``STALE``, and refreshed in the
  background once, however many requests saw it stale (one task per key in this process,
  and a short lease in the shared tier so that only one process refreshes);
- missing: fetched, ``MISS``; concurrent requests for the same key share that one fetch;
- the fetch fails with a retryable error (``UpstreamUnavailable``: timeout, 5xx, 429, circuit
  open, busy) and an entry up to ``max_stale_if_error_seconds`` old is present: that value is
  served, ``STALE`` (stale-if-error), and the failure is logged without personal data;
- the system has no such record (``UpstreamNotFound``): remembered for ``not_found_seconds``
  and raised again meanwhile without asking.

Keys carry no personal data: the record id is hashed (SHA-256) into the key, and nothing
else but fixed resource names and numbers (an invoice list's length) goes in.

Invalidation (``invalidate_record``) uses a generation number per source record, part of
every entry key of that record: bumping it makes all of the record's entries (every resource
and variant) unreachable at once, in every process, without listing them, and a fetch that
was under way when the record changed stores its result under the old generation, where no
one looks, so it cannot bring the old data back. Old entries simply expire. The Redis tier
also publishes the invalidation so every process drops the record from its local tier at
once (``app.cache.tiers``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from adapters.http.client import Deadline, detached_context, request_deadline
from app.cache.codec import Entry
from app.cache.metrics import HIT, MISS, NOT_FOUND, STALE, STALE_IF_ERROR, CacheMetrics
from app.cache.settings import CacheSettings, Lifetime
from app.cache.tiers import KEY_PREFIX, CacheTier, CacheUnavailable, MemoryTier, RedisTier
from kernel.errors import UpstreamError, UpstreamNotFound, UpstreamUnavailable
from kernel.models import CacheState, Source

__all__ = ["CacheKey", "CacheUnavailable", "ResponseCache", "record_prefix"]

logger = logging.getLogger(__name__)

#: Longest a process holds the right to refresh one stale entry (it gives it back when done).
REFRESH_LEASE_SECONDS = 10.0
#: A generation number is kept this much longer than the longest entry lifetime: were it to
#: expire (and restart at 0) while an entry of an older generation lived, that entry could
#: be read again after the record had changed.
GENERATION_MARGIN_SECONDS = 60.0
#: Source records whose key prefix is remembered (``record_prefix``).
REMEMBERED_PREFIXES = 8192

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class CacheKey:
    """One cached read: a source record's resource (and variant, such as a list length)."""

    source: Source
    #: The id the adapter method takes: billing customer, CRM contact, support user.
    record_id: str
    #: A resource name of the source's section in ``CacheSettings`` (``invoices``).
    resource: str
    variant: str = ""


@functools.lru_cache(maxsize=REMEMBERED_PREFIXES)
def record_prefix(source: Source, record_id: str) -> str:
    """The prefix of every key of one source record; the id appears only hashed.

    Remembered for the records read lately: every read of the cache needs it, and hashing
    costs more than the in-process lookup it leads to.
    """
    digest = hashlib.sha256(f"{source.value}\x00{record_id}".encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{source.value.lower()}:{digest}:"


class ResponseCache:
    """The two-tier cache every cached adapter reads through (see the module docstring).

    ``clock`` (epoch seconds) dates entries; tests pass their own to move time on.
    """

    def __init__(
        self,
        settings: CacheSettings,
        tier: CacheTier,
        metrics: CacheMetrics,
        *,
        clock: Clock = time.time,
    ) -> None:
        self._settings = settings
        self._tier = tier
        self._metrics = metrics
        self._clock = clock
        self._in_flight: dict[str, asyncio.Task[Any]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._generation_ttl = self._longest_entry_ttl() + GENERATION_MARGIN_SECONDS

    @classmethod
    async def open(
        cls, settings: CacheSettings, metrics: CacheMetrics, *, clock: Clock = time.time
    ) -> ResponseCache:
        """The cache ``settings`` describe: Redis (with a local tier) when a URL is set.

        Disabled, it is an empty in-process cache that nothing reads through (so that
        invalidations still have somewhere to go) and Redis is never contacted.
        """
        if settings.url is None or not settings.enabled:
            return cls(settings, MemoryTier(settings.memory_max_entries), metrics, clock=clock)
        tier = RedisTier(settings, settings.url.get_secret_value(), metrics)
        # Not a reason to refuse to start: an unreachable Redis only costs the shared tier.
        await tier.start(
            wait_seconds=settings.redis_connect_timeout_seconds + settings.redis_timeout_seconds
        )
        return cls(settings, tier, metrics, clock=clock)

    @property
    def tier(self) -> CacheTier:
        """Where entries are kept (tests look at it)."""
        return self._tier

    async def get(self, key: CacheKey, model: type[M], fetch: Callable[[], Awaitable[M]]) -> M:
        """The value for ``key``: cached (HIT or STALE) or fetched with ``fetch`` (MISS).

        Raises what ``fetch`` raises, except a retryable failure when a stale value can be
        served instead; ``UpstreamNotFound`` also while a not-found is remembered.
        """
        storage_key = await self._storage_key(key)
        entry = await self._tier.get(storage_key, model)
        age = 0.0
        if entry is not None:
            age = self._clock() - entry.fetched_at
            cached = self._serve_cached(key, storage_key, entry, age, model, fetch)
            if cached is not None:
                return cached
        try:
            value = await asyncio.shield(self._fetch_once(key, storage_key, fetch))
        except UpstreamUnavailable as exc:
            fallback = self._stale_if_error(key, entry, age, model, exc)
            if fallback is None:
                raise
            return fallback
        self._count(key, MISS)
        return cast(M, value)

    async def get_many(
        self,
        keys: Sequence[CacheKey],
        model: type[M],
        fetch_many: Callable[[list[str]], Awaitable[Mapping[str, M]]],
    ) -> dict[str, M]:
        """Values for ``keys`` (one source and resource) by record id, for a batch read.

        Cached ids are served from the cache; the others are fetched with one ``fetch_many``
        call (ids another request is already fetching are waited for, not asked again).
        Records the system does not have are absent from the result, as in the batch read.
        """
        storage_keys = await asyncio.gather(*(self._storage_key(key) for key in keys))
        entries = await asyncio.gather(
            *(self._tier.get(storage_key, model) for storage_key in storage_keys)
        )
        found: dict[str, M] = {}
        missing: list[tuple[CacheKey, str, Entry | None, float]] = []
        for key, storage_key, entry in zip(keys, storage_keys, entries, strict=True):
            age = 0.0
            if entry is not None:
                age = self._clock() - entry.fetched_at
                try:
                    cached = self._serve_cached(
                        key, storage_key, entry, age, model, _fetch_one(key, fetch_many)
                    )
                except UpstreamNotFound:
                    continue
                if cached is not None:
                    found[key.record_id] = cached
                    continue
            missing.append((key, storage_key, entry, age))
        if not missing:
            return found
        tasks = self._fetch_batch_once([(key, skey) for key, skey, _, _ in missing], fetch_many)
        for key, storage_key, entry, age in missing:
            try:
                value = await asyncio.shield(tasks[storage_key])
            except UpstreamNotFound:
                continue
            except UpstreamUnavailable as exc:
                fallback = self._stale_if_error(key, entry, age, model, exc)
                if fallback is None:
                    raise
                found[key.record_id] = fallback
                continue
            self._count(key, MISS)
            found[key.record_id] = cast(M, value)
        return found

    async def invalidate_record(self, source: Source, record_id: str) -> None:
        """Forget every cached entry of one source record, in every process.

        ``record_id`` is the id the source's reads take (billing customer, CRM contact,
        support user id); every resource and variant of it goes. This process forgets it
        even when the shared tier is down, but then ``CacheUnavailable`` is raised: other
        processes may still hold the record, so the change must be announced again.
        """
        prefix = record_prefix(source, record_id)
        await self._tier.bump_generation(prefix + "gen", self._generation_ttl, prefix)

    async def clear(self) -> None:
        """Forget every entry (tests, and an operator who wants a cold cache)."""
        await self._tier.clear()

    async def settle(self) -> None:
        """Wait until no fetch or background refresh is under way (tests, draining)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop background refreshes and shared fetches; release the tier's connections."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._tier.close()

    # --- serving -----------------------------------------------------------------------------

    def _serve_cached(
        self,
        key: CacheKey,
        storage_key: str,
        entry: Entry,
        age: float,
        model: type[M],
        fetch: Callable[[], Awaitable[M]],
    ) -> M | None:
        """The cached answer for ``entry`` (raising a remembered not-found), or None: fetch."""
        if entry.value is None:
            if age < self._settings.not_found_seconds:
                self._count(key, NOT_FOUND)
                raise UpstreamNotFound(key.source, entry.not_found_message or "no such record")
            return None
        if not isinstance(entry.value, model):
            return None
        lifetime = self._lifetime(key)
        if age <= lifetime.fresh_seconds:
            self._count(key, HIT)
            return entry.value.model_copy(update={"cache_state": CacheState.HIT})
        if age <= lifetime.fresh_seconds + lifetime.stale_seconds:
            self._count(key, STALE)
            self._refresh_in_background(key, storage_key, fetch)
            return entry.value.model_copy(update={"cache_state": CacheState.STALE})
        return None

    def _stale_if_error(
        self,
        key: CacheKey,
        entry: Entry | None,
        age: float,
        model: type[M],
        error: UpstreamUnavailable,
    ) -> M | None:
        """The cached value to serve instead of ``error``, if one is recent enough."""
        if entry is None or not isinstance(entry.value, model):
            return None
        if age > self._settings.max_stale_if_error_seconds:
            return None
        # Source, resource and error code only: the key and the value may identify a person.
        logger.warning(
            "%s %s failed (%s): serving the cached value, %.0f s old",
            key.source.value,
            key.resource,
            error.code,
            age,
        )
        self._count(key, STALE_IF_ERROR)
        return entry.value.model_copy(update={"cache_state": CacheState.STALE})

    # --- fetching ----------------------------------------------------------------------------

    def _fetch_once(
        self, key: CacheKey, storage_key: str, fetch: Callable[[], Awaitable[M]]
    ) -> asyncio.Task[Any]:
        """The fetch of ``storage_key`` under way, or a new one (single-flight)."""
        task = self._in_flight.get(storage_key)
        if task is None:
            task = self._spawn(self._fetch_and_store(key, storage_key, fetch))
            self._track_in_flight(storage_key, task)
        return task

    def _fetch_batch_once(
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
        lifetime = self._lifetime(key)
        ttl = max(
            lifetime.fresh_seconds + lifetime.stale_seconds,
            self._settings.max_stale_if_error_seconds,
        )
        await self._tier.set(storage_key, Entry(fetched_at=self._clock(), value=value), ttl)

    async def _remember_not_found(self, storage_key: str, message: str) -> None:
        if self._settings.not_found_seconds > 0:
            entry = Entry(fetched_at=self._clock(), value=None, not_found_message=message)
            await self._tier.set(storage_key, entry, self._settings.not_found_seconds)

    def _refresh_in_background(
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
                await asyncio.shield(self._fetch_once(key, storage_key, fetch))
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

    async def _storage_key(self, key: CacheKey) -> str:
        prefix = record_prefix(key.source, key.record_id)
        generation = await self._tier.generation(prefix + "gen")
        return f"{prefix}g{generation}:{key.resource}:{key.variant}"

    def _lifetime(self, key: CacheKey) -> Lifetime:
        section = {
            Source.BILLING: self._settings.billing,
            Source.CRM: self._settings.crm,
            Source.SUPPORT: self._settings.support,
        }.get(key.source)
        lifetime = getattr(section, key.resource, None)
        if not isinstance(lifetime, Lifetime):
            raise ValueError(f"no cache lifetime for {key.source.value} {key.resource}")
        return lifetime

    def _longest_entry_ttl(self) -> float:
        sections: list[BaseModel] = [
            self._settings.billing,
            self._settings.crm,
            self._settings.support,
        ]
        spans = [
            value.fresh_seconds + value.stale_seconds
            for section in sections
            for value in section.__dict__.values()
            if isinstance(value, Lifetime)
        ]
        return max(
            [*spans, self._settings.max_stale_if_error_seconds, self._settings.not_found_seconds]
        )

    def _count(self, key: CacheKey, result: str) -> None:
        # The labelled counters are few (source x resource x result) and looked up on every
        # read: prometheus_client's labels() takes a lock and builds a tuple each time.
        labels = (key.source.value, key.resource, result)
        counter = self._counters.get(labels)
        if counter is None:
            counter = self._counters[labels] = self._metrics.lookups.labels(*labels)
        counter.inc()


def _fetch_one(
    key: CacheKey, fetch_many: Callable[[list[str]], Awaitable[Mapping[str, M]]]
) -> Callable[[], Awaitable[M]]:
    """A single read of ``key`` through the batch read (for refreshing one stale entry)."""

    async def fetch() -> M:
        found = await fetch_many([key.record_id])
        value = found.get(key.record_id)
        if value is None:
            raise UpstreamNotFound(key.source, "no such record")
        return value

    return fetch


async def _pick(batch: asyncio.Task[Mapping[str, M]], key: CacheKey) -> M:
    """``key``'s value from a batch fetch; ``UpstreamNotFound`` if the batch lacks it."""
    found = await asyncio.shield(batch)
    value = found.get(key.record_id)
    if value is None:
        raise UpstreamNotFound(key.source, "no such record")
    return value
