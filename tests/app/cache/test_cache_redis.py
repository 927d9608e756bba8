"""The response cache on a real Redis, shared by two caches as two gateway processes would."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as redis
from prometheus_client import CollectorRegistry, Counter
from pydantic import SecretStr

from adapters.billing.cached import BillingLifetimes
from app.cache.metrics import CacheMetrics
from app.cache.response_cache import CacheUnavailable, ResponseCache
from app.cache.settings import CacheSettings
from app.cache.tiers import RedisTier
from kernel.cache import CacheKey, Lifetime
from kernel.models import BillingCustomer, BillingCustomerId, CacheState, Source
from tests.builders import billing_customer
from tests.fakes import ManualClock
from tests.redis_server import EmbeddedRedis

ADA = BillingCustomerId("cus_ada")
KEY = CacheKey(Source.BILLING, ADA, "customer")
KEY_A = base64.b64encode(b"a" * 32).decode()
KEY_B = base64.b64encode(b"b" * 32).decode()

Open = Callable[..., Awaitable[ResponseCache]]


class CountingFetch:
    """One process's upstream read of Ada's billing record, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> BillingCustomer:
        self.calls += 1
        await self.gate.wait()
        return billing_customer(ADA, "Ada Lovelace", email="ada.lovelace@example.com")


@pytest.fixture
async def open_cache(redis_url: str) -> AsyncIterator[Open]:
    """Opens caches ("gateway processes") on the test's Redis; closes them afterwards."""
    opened: list[ResponseCache] = []

    async def open_one(
        url: str = redis_url,
        encryption_key: str | None = None,
        clock: ManualClock | None = None,
        metrics: CacheMetrics | None = None,
        local_ttl: float = 2.0,
    ) -> ResponseCache:
        settings = CacheSettings(
            url=SecretStr(url),
            encryption_key=None if encryption_key is None else SecretStr(encryption_key),
            billing=BillingLifetimes(customer=Lifetime(fresh_seconds=10, stale_seconds=50)),
            redis_retry_seconds=60,
            local_ttl_seconds=local_ttl,
        )
        cache = await ResponseCache.open(
            settings,
            metrics or CacheMetrics.create(CollectorRegistry()),
            clock=clock or ManualClock(1_000_000.0),
        )
        opened.append(cache)
        return cache

    yield open_one
    for cache in opened:
        await cache.close()


async def read(cache: ResponseCache, fetch: CountingFetch) -> BillingCustomer:
    return await cache.get(KEY, BillingCustomer, fetch)


async def raw_values(url: str) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(url)
    try:
        values: dict[bytes, bytes] = {}
        for key in await client.keys("*"):
            value = await client.get(key)
            if isinstance(key, bytes) and isinstance(value, bytes):
                values[key] = value
        return values
    finally:
        await client.aclose()


async def wait_for_invalidation(cache: ResponseCache, seen: int) -> None:
    """Until ``cache`` has received an invalidation message beyond the ``seen`` first."""
    tier = cache.tier
    assert isinstance(tier, RedisTier)
    async with asyncio.timeout(10):
        while True:
            tier.invalidation_arrived.clear()
            if tier.invalidations_received > seen:
                return
            await tier.invalidation_arrived.wait()


async def test_a_fetch_by_one_process_is_a_hit_for_the_other(open_cache: Open) -> None:
    first, second = await open_cache(), await open_cache()
    first_fetch, second_fetch = CountingFetch(), CountingFetch()
    await read(first, first_fetch)
    customer = await read(second, second_fetch)
    assert (customer.cache_state, first_fetch.calls, second_fetch.calls) == (CacheState.HIT, 1, 0)


async def test_an_invalidation_by_one_process_invalidates_for_both(open_cache: Open) -> None:
    first, second = await open_cache(), await open_cache()
    fetch = CountingFetch()
    await read(first, fetch)
    await read(second, fetch)  # now in the second's local tier as well
    second_tier = second.tier
    assert isinstance(second_tier, RedisTier)
    seen = second_tier.invalidations_received
    await first.invalidate_record(Source.BILLING, ADA)
    await wait_for_invalidation(second, seen)
    states = [(await read(cache, fetch)).cache_state for cache in (second, first)]
    assert states == [CacheState.MISS, CacheState.HIT]
    assert fetch.calls == 2


async def test_under_concurrency_a_miss_across_two_processes_is_fetched_once_by_each_at_most(
    open_cache: Open,
) -> None:
    first, second = await open_cache(), await open_cache()
    fetch = CountingFetch()
    fetch.gate.clear()
    readers = [asyncio.ensure_future(read(cache, fetch)) for cache in (first, second) * 20]
    await asyncio.sleep(0.05)
    fetch.gate.set()
    await asyncio.gather(*readers)
    assert fetch.calls <= 2


async def test_a_stale_entry_is_refreshed_by_one_process_only(open_cache: Open) -> None:
    clock = ManualClock(1_000_000.0)
    first, second = await open_cache(clock=clock), await open_cache(clock=clock)
    fetch = CountingFetch()
    await read(first, fetch)
    clock.now += 30
    fetch.gate.clear()  # the first refresh holds its lease while the other process looks
    served = await asyncio.gather(*(read(cache, fetch) for cache in (first, second) * 10))
    await asyncio.sleep(0.05)
    fetch.gate.set()
    await first.settle()
    await second.settle()
    assert {customer.cache_state for customer in served} == {CacheState.STALE}
    assert fetch.calls == 2


async def test_keys_and_values_in_redis_carry_no_personal_data_in_clear(
    open_cache: Open, redis_url: str
) -> None:
    cache = await open_cache(encryption_key=KEY_A)
    await read(cache, CountingFetch())
    stored = await raw_values(redis_url)
    assert stored
    for key, value in stored.items():
        assert ADA.encode() not in key
        assert b"ada.lovelace" not in value
        assert b"Lovelace" not in value


async def test_an_encrypted_entry_reads_back_with_the_same_key(open_cache: Open) -> None:
    first, second = await open_cache(encryption_key=KEY_A), await open_cache(encryption_key=KEY_A)
    await read(first, CountingFetch())
    customer = await read(second, CountingFetch())
    assert (customer.cache_state, customer.email) == (CacheState.HIT, "ada.lovelace@example.com")


@pytest.mark.parametrize("other_key", [KEY_B, None], ids=["wrong-key", "no-key"])
async def test_a_value_encrypted_with_another_key_reads_as_a_counted_miss(
    open_cache: Open, other_key: str | None
) -> None:
    metrics = CacheMetrics.create(CollectorRegistry())
    writer = await open_cache(encryption_key=KEY_A)
    reader = await open_cache(encryption_key=other_key, metrics=metrics)
    await read(writer, CountingFetch())
    fetch = CountingFetch()
    customer = await read(reader, fetch)
    assert (customer.cache_state, customer.name, fetch.calls) == (
        CacheState.MISS,
        "Ada Lovelace",
        1,
    )
    assert metrics.unreadable_entries.labels("decryption")._value.get() == 1


async def test_a_corrupt_value_reads_as_a_counted_miss(open_cache: Open, redis_url: str) -> None:
    metrics = CacheMetrics.create(CollectorRegistry())
    writer = await open_cache(encryption_key=KEY_A)
    await read(writer, CountingFetch())
    client = redis.Redis.from_url(redis_url)
    for key, value in (await raw_values(redis_url)).items():
        if b":customer:" in key:
            await client.set(key, value[:-1] + bytes([value[-1] ^ 1]))
    await client.aclose()
    reader = await open_cache(encryption_key=KEY_A, metrics=metrics)
    fetch = CountingFetch()
    assert (await read(reader, fetch)).cache_state is CacheState.MISS
    assert metrics.unreadable_entries.labels("decryption")._value.get() == 1


async def test_with_redis_stopped_queries_answer_from_the_local_tier_and_upstream(
    open_cache: Open, own_redis: EmbeddedRedis
) -> None:
    metrics = CacheMetrics.create(CollectorRegistry())
    # Stopping the embedded server takes seconds: the local tier must outlive that here.
    cache = await open_cache(url=own_redis.url, metrics=metrics, local_ttl=300)
    fetch = CountingFetch()
    await read(cache, fetch)
    own_redis.stop()
    from_local = await read(cache, fetch)
    other = CacheKey(Source.BILLING, "cus_grace", "customer")
    from_upstream = await cache.get(other, BillingCustomer, fetch)
    again = await cache.get(other, BillingCustomer, fetch)
    assert from_local.cache_state is CacheState.HIT
    assert (from_upstream.cache_state, again.cache_state) == (CacheState.MISS, CacheState.HIT)
    assert sum(_samples(metrics.redis_errors)) >= 1


async def test_an_unreachable_redis_at_start_costs_only_the_shared_tier(
    open_cache: Open, tmp_path_factory: pytest.TempPathFactory
) -> None:
    nowhere = tmp_path_factory.mktemp("no-redis") / "redis.sock"
    cache = await open_cache(url=f"unix://{nowhere}")
    fetch = CountingFetch()
    first, second = await read(cache, fetch), await read(cache, fetch)
    assert (first.cache_state, second.cache_state, fetch.calls) == (
        CacheState.MISS,
        CacheState.HIT,
        1,
    )


async def test_an_invalidation_redis_cannot_record_is_raised_and_still_applied_locally(
    open_cache: Open, own_redis: EmbeddedRedis
) -> None:
    cache = await open_cache(url=own_redis.url)
    fetch = CountingFetch()
    await read(cache, fetch)
    own_redis.stop()
    with pytest.raises(CacheUnavailable):
        await cache.invalidate_record(Source.BILLING, ADA)
    assert (await read(cache, fetch)).cache_state is CacheState.MISS


def _samples(counter: Counter) -> list[float]:
    return [
        sample.value
        for metric in counter.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    ]


async def test_clearing_forgets_what_redis_holds(open_cache: Open, redis_url: str) -> None:
    first, second = await open_cache(), await open_cache()
    await read(first, CountingFetch())
    await first.clear()
    fetch = CountingFetch()
    assert (await read(second, fetch)).cache_state is CacheState.MISS
    assert fetch.calls == 1
