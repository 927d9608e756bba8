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
  and raised again meanwhile without asking;
- the fetch has not answered within the budget of the caller's role and an entry young
  enough for stale-if-error is present: that value is served, ``STALE`` (stale-if-slow,
  ``app.cache.stale_if_slow``), and the fetch finishes in the background to refresh it.

Keys carry no personal data: the record id is hashed (SHA-256) into the key, and nothing
else but fixed resource names and numbers (an invoice list's length) goes in
(``app.cache.keys``). The fetches behind a miss, what they store and the background
refreshes are ``app.cache.fetcher``'s; this module decides what each read is served.

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
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from app.cache.codec import Entry
from app.cache.fetcher import CacheFetcher, Clock
from app.cache.keys import entry_lifetime, longest_entry_ttl, record_prefix
from app.cache.metrics import (
    HIT,
    MISS,
    NOT_FOUND,
    STALE,
    STALE_IF_ERROR,
    STALE_IF_SLOW,
    CacheMetrics,
)
from app.cache.read_log import read_log
from app.cache.settings import CacheSettings
from app.cache.stale_if_slow import patience
from app.cache.tiers import CacheTier, CacheUnavailable, MemoryTier, RedisTier
from app.observability.series import Series
from kernel.cache import CacheKey
from kernel.errors import UpstreamNotFound, UpstreamUnavailable
from kernel.models import CacheState, Source

__all__ = ["CacheUnavailable", "ResponseCache"]

logger = logging.getLogger(__name__)

#: A generation number is kept this much longer than the longest entry lifetime: were it to
#: expire (and restart at 0) while an entry of an older generation lived, that entry could
#: be read again after the record had changed.
GENERATION_MARGIN_SECONDS = 60.0

M = TypeVar("M", bound=BaseModel)


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
        self._fetcher = CacheFetcher(settings, tier, metrics, clock=clock)
        #: Few (source x resource x result), looked up on every read.
        self._lookups = Series(metrics.lookups)
        self._generation_ttl = longest_entry_ttl(settings) + GENERATION_MARGIN_SECONDS
        self._dependents: list[Callable[[], None]] = []
        #: The tenant whose entries this view reads and invalidates ("": none named).
        self._tenant = ""

    def for_tenant(self, tenant: str) -> ResponseCache:
        """This cache as ``tenant``'s: the same tiers, fetches and metrics, every key in
        the tenant's namespace (``app.cache.keys.record_prefix``), so that one tenant's
        record never answers for another's and a webhook invalidates its own tenant's."""
        view = copy.copy(self)
        view._tenant = tenant
        return view

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
        task = self._fetcher.fetch_once(key, storage_key, fetch)
        slow_until = self._slow_until()
        if slow_until is not None:
            stale = self._stale_if_slow(key, entry, age, model)
            if stale is not None and not await _answered_by(task, slow_until):
                self._count(key, STALE_IF_SLOW)
                return stale
        try:
            value = await asyncio.shield(task)
        except UpstreamUnavailable as exc:
            fallback = self._stale_if_error(key, entry, age, model, exc)
            if fallback is None:
                raise
            return fallback
        self._count(key, MISS, fresh_left=entry_lifetime(self._settings, key).fresh_seconds)
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
        tasks = self._fetcher.fetch_batch_once(
            [(key, skey) for key, skey, _, _ in missing], fetch_many
        )
        slow_until = self._slow_until()
        for key, storage_key, entry, age in missing:
            stale = None if slow_until is None else self._stale_if_slow(key, entry, age, model)
            if stale is not None and not await _answered_by(tasks[storage_key], slow_until):
                self._count(key, STALE_IF_SLOW)
                found[key.record_id] = stale
                continue
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
            self._count(key, MISS, fresh_left=entry_lifetime(self._settings, key).fresh_seconds)
            found[key.record_id] = cast(M, value)
        return found

    async def invalidate_record(self, source: Source, record_id: str) -> None:
        """Forget every cached entry of one source record, in every process.

        ``record_id`` is the id the source's reads take (billing customer, CRM contact,
        support user id); every resource and variant of it goes. This process forgets it
        even when the shared tier is down, but then ``CacheUnavailable`` is raised: other
        processes may still hold the record, so the change must be announced again.
        """
        prefix = record_prefix(source, record_id, self._tenant)
        await self._tier.bump_generation(prefix + "gen", self._generation_ttl, prefix)

    def when_cleared(self, forget: Callable[[], None]) -> None:
        """Have ``forget`` called by ``clear``: for what was built on these entries and
        their generations (which a clear starts again from 0), such as kept answers."""
        self._dependents.append(forget)

    async def clear(self) -> None:
        """Forget every entry (tests, and an operator who wants a cold cache)."""
        for forget in self._dependents:
            forget()
        await self._tier.clear()

    async def settle(self) -> None:
        """Wait until no fetch or background refresh is under way (tests, draining)."""
        await self._fetcher.settle()

    async def close(self) -> None:
        """Stop background refreshes and shared fetches; release the tier's connections."""
        await self._fetcher.close()
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
        lifetime = entry_lifetime(self._settings, key)
        if age <= lifetime.fresh_seconds:
            self._count(key, HIT, fresh_left=lifetime.fresh_seconds - age)
            return entry.value.model_copy(update={"cache_state": CacheState.HIT})
        if age <= lifetime.fresh_seconds + lifetime.stale_seconds:
            self._count(key, STALE)
            self._fetcher.refresh_in_background(key, storage_key, fetch)
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

    def _slow_until(self) -> float | None:
        """The ``time.monotonic()`` until which this request waits for a fetch when a stale
        value could answer instead; None: its role waits for the system (or no request)."""
        return self._settings.stale_if_slow.wait_until(patience.get())

    def _stale_if_slow(
        self, key: CacheKey, entry: Entry | None, age: float, model: type[M]
    ) -> M | None:
        """``entry``'s value marked STALE, if young enough to be served instead of its system."""
        if entry is None or not isinstance(entry.value, model):
            return None
        if age > self._settings.max_stale_if_error_seconds:
            return None
        return entry.value.model_copy(update={"cache_state": CacheState.STALE})

    # --- bookkeeping -------------------------------------------------------------------------

    async def _storage_key(self, key: CacheKey) -> str:
        prefix = record_prefix(key.source, key.record_id, self._tenant)
        generation = await self._tier.generation(prefix + "gen")
        log = read_log.get()
        if log is not None:
            log.read(prefix + "gen", generation)
        return f"{prefix}g{generation}:{key.resource}:{key.variant}"

    def _count(self, key: CacheKey, result: str, *, fresh_left: float = 0.0) -> None:
        log = read_log.get()
        if log is not None:
            # A remembered not-found is as good as a fresh value; anything stale spoils it.
            log.fresh_for(fresh_left if result in (HIT, MISS) else self._settings.not_found_seconds)
            log.stale = log.stale or result not in (HIT, MISS, NOT_FOUND)
        self._lookups(key.source.value, key.resource, result).inc()


async def _answered_by(task: asyncio.Task[Any], until: float | None) -> bool:
    """Whether ``task`` is done by ``time.monotonic()`` ``until`` (None: no limit, so yes:
    the caller awaits it); the task is never cancelled."""
    if until is None:
        return True
    if not task.done():
        await asyncio.wait((task,), timeout=max(0.0, until - time.monotonic()))
    return task.done()


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
