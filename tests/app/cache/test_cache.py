"""The response cache's rules, on the in-process tier, with a clock the tests move on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from adapters.billing.cached import BillingLifetimes
from app.cache.codec import Entry
from app.cache.metrics import CacheMetrics
from app.cache.response_cache import ResponseCache
from app.cache.settings import CacheSettings
from app.cache.tiers import MemoryTier
from kernel.cache import CacheKey, Lifetime
from kernel.errors import (
    CircuitOpen,
    UpstreamBusy,
    UpstreamContractError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import BillingCustomer, BillingCustomerId, CacheState, Source
from tests.builders import billing_customer
from tests.fakes import ManualClock

ADA = BillingCustomerId("cus_ada")
KEY = CacheKey(Source.BILLING, ADA, "customer")
#: Fresh for 10 s, then stale for 50 s more; kept up to 600 s for stale-if-error.
SETTINGS = CacheSettings(
    billing=BillingLifetimes(customer=Lifetime(fresh_seconds=10, stale_seconds=50)),
    max_stale_if_error_seconds=600,
    not_found_seconds=30,
)


class CountingFetch:
    """An upstream read that counts its calls; it can be held, or made to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.balance = 0
        self.error: Exception | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> BillingCustomer:
        self.calls += 1
        balance = self.balance
        await self.gate.wait()
        if self.error is not None:
            raise self.error
        return billing_customer(ADA, "Ada Lovelace", balance=balance)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


@pytest.fixture
def metrics() -> CacheMetrics:
    return CacheMetrics.create(CollectorRegistry())


@pytest.fixture
async def cache(clock: ManualClock, metrics: CacheMetrics) -> AsyncIterator[ResponseCache]:
    cache = await ResponseCache.open(SETTINGS, metrics, clock=clock)
    yield cache
    await cache.close()


@pytest.fixture
def fetch() -> CountingFetch:
    return CountingFetch()


def lookups(metrics: CacheMetrics, result: str) -> float:
    value: float = metrics.lookups.labels("BILLING", "customer", result)._value.get()
    return value


async def read(cache: ResponseCache, fetch: Callable[[], object]) -> BillingCustomer:
    return await cache.get(KEY, BillingCustomer, fetch)  # type: ignore[arg-type]


async def test_the_first_read_is_fetched_and_marked_miss(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    customer = await read(cache, fetch)
    assert (customer.cache_state, fetch.calls) == (CacheState.MISS, 1)


async def test_a_read_within_the_fresh_lifetime_is_a_hit_without_asking(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock
) -> None:
    await read(cache, fetch)
    clock.advance(9)
    customer = await read(cache, fetch)
    assert (customer.cache_state, fetch.calls) == (CacheState.HIT, 1)


async def test_a_stale_read_is_served_at_once_and_refreshed_in_the_background(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock
) -> None:
    await read(cache, fetch)
    clock.advance(30)
    fetch.balance = 99
    stale = await read(cache, fetch)
    await cache.settle()
    fresh = await read(cache, fetch)
    assert (stale.cache_state, stale.balance.amount) == (CacheState.STALE, Decimal(0))
    assert (fresh.cache_state, fresh.balance.amount) == (CacheState.HIT, Decimal(99))


async def test_under_concurrency_a_stale_entry_is_refreshed_exactly_once(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock, metrics: CacheMetrics
) -> None:
    await read(cache, fetch)
    clock.advance(30)
    fetch.gate.clear()  # the refresh stays under way while every reader arrives
    served = await asyncio.gather(*(read(cache, fetch) for _ in range(50)))
    fetch.gate.set()
    await cache.settle()
    assert {customer.cache_state for customer in served} == {CacheState.STALE}
    assert fetch.calls == 2  # the first fetch, and one refresh
    assert metrics.refreshes.labels("BILLING", "customer", "ok")._value.get() == 1


async def test_under_concurrency_a_miss_is_fetched_exactly_once(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    fetch.gate.clear()
    readers = [asyncio.ensure_future(read(cache, fetch)) for _ in range(50)]
    await asyncio.sleep(0)
    fetch.gate.set()
    served = await asyncio.gather(*readers)
    assert fetch.calls == 1
    assert {customer.cache_state for customer in served} == {CacheState.MISS}


async def test_a_reader_that_gives_up_does_not_cancel_the_shared_fetch(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    fetch.gate.clear()
    impatient = asyncio.ensure_future(read(cache, fetch))
    patient = asyncio.ensure_future(read(cache, fetch))
    await asyncio.sleep(0)
    impatient.cancel()
    fetch.gate.set()
    customer = await patient
    # Served from the one fetch the impatient reader started: shared (MISS) or, if it had
    # already stored the entry when the patient one looked, from the cache (HIT).
    assert customer.cache_state in {CacheState.MISS, CacheState.HIT}
    assert fetch.calls == 1


@pytest.mark.parametrize(
    "error",
    [
        UpstreamUnavailable(Source.BILLING, "503"),
        UpstreamTimeout(Source.BILLING, "timed out"),
        UpstreamRateLimited(Source.BILLING, "429", retry_after=30),
        CircuitOpen(Source.BILLING, "open"),
        UpstreamBusy(Source.BILLING, "busy"),
    ],
    ids=lambda error: error.code,
)
async def test_a_retryable_failure_serves_the_stale_value(
    cache: ResponseCache,
    fetch: CountingFetch,
    clock: ManualClock,
    metrics: CacheMetrics,
    error: UpstreamUnavailable,
) -> None:
    await read(cache, fetch)
    clock.advance(300)  # past the stale window, within the stale-if-error bound
    fetch.error = error
    customer = await read(cache, fetch)
    assert (customer.cache_state, fetch.calls) == (CacheState.STALE, 2)
    assert lookups(metrics, "stale_if_error") == 1


async def test_a_value_older_than_the_stale_if_error_bound_is_not_served(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock
) -> None:
    await read(cache, fetch)
    clock.advance(601)
    fetch.error = UpstreamUnavailable(Source.BILLING, "503")
    with pytest.raises(UpstreamUnavailable):
        await read(cache, fetch)


@pytest.mark.parametrize(
    "error",
    [UpstreamRejected(Source.BILLING, "401"), UpstreamContractError(Source.BILLING, "shape")],
    ids=lambda error: error.code,
)
async def test_a_failure_that_is_not_retryable_is_raised_even_with_a_stale_value(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock, error: Exception
) -> None:
    await read(cache, fetch)
    clock.advance(300)
    fetch.error = error
    with pytest.raises(type(error)):
        await read(cache, fetch)


async def test_a_failing_refresh_keeps_the_stale_value_and_is_counted(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock, metrics: CacheMetrics
) -> None:
    await read(cache, fetch)
    clock.advance(30)
    fetch.error = UpstreamUnavailable(Source.BILLING, "503")
    await read(cache, fetch)
    await cache.settle()
    again = await read(cache, fetch)
    assert again.cache_state is CacheState.STALE
    refreshes = metrics.refreshes.labels("BILLING", "customer", "UPSTREAM_UNAVAILABLE")
    assert refreshes._value.get() >= 1


async def test_not_found_is_remembered_briefly(
    cache: ResponseCache, fetch: CountingFetch, clock: ManualClock
) -> None:
    fetch.error = UpstreamNotFound(Source.BILLING, "no such customer")
    for _ in range(3):
        with pytest.raises(UpstreamNotFound):
            await read(cache, fetch)
    assert fetch.calls == 1
    clock.advance(31)
    with pytest.raises(UpstreamNotFound):
        await read(cache, fetch)
    assert fetch.calls == 2


async def test_an_invalidated_record_is_fetched_again_in_every_resource_and_variant(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    keys = [KEY, CacheKey(Source.BILLING, ADA, "invoices", "3")]
    keys.append(CacheKey(Source.BILLING, ADA, "invoices", "10"))
    for key in keys:
        await cache.get(key, BillingCustomer, fetch)
    await cache.invalidate_record(Source.BILLING, ADA)
    states = [(await cache.get(key, BillingCustomer, fetch)).cache_state for key in keys]
    assert states == [CacheState.MISS] * 3
    assert fetch.calls == 6


async def test_invalidating_one_record_keeps_the_others(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    other = CacheKey(Source.BILLING, "cus_grace", "customer")
    await cache.get(other, BillingCustomer, fetch)
    await cache.invalidate_record(Source.BILLING, ADA)
    assert (await cache.get(other, BillingCustomer, fetch)).cache_state is CacheState.HIT


async def test_a_fetch_under_way_when_the_record_changes_does_not_bring_it_back(
    cache: ResponseCache, fetch: CountingFetch
) -> None:
    fetch.gate.clear()
    old_read = asyncio.ensure_future(read(cache, fetch))
    await asyncio.sleep(0)
    await cache.invalidate_record(Source.BILLING, ADA)
    fetch.gate.set()
    await old_read
    fetch.balance = 42
    customer = await read(cache, fetch)
    assert (customer.cache_state, customer.balance.amount) == (CacheState.MISS, Decimal(42))


async def test_the_in_process_cache_keeps_at_most_its_entries() -> None:
    tier = MemoryTier(max_entries=2)
    for n in range(5):
        await tier.set(f"key-{n}", Entry(fetched_at=0.0, value=None), ttl=60)
    assert len(tier) == 2
    assert await tier.get("key-4", BaseModel) is not None
    assert await tier.get("key-0", BaseModel) is None


async def test_keys_carry_no_record_id_in_clear(cache: ResponseCache, fetch: CountingFetch) -> None:
    await read(cache, fetch)
    tier = cache.tier
    stored = [*tier._entries._items, *tier._cache._cache]  # type: ignore[attr-defined]
    assert stored
    assert all(ADA not in key for key in stored)
