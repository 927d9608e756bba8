"""Stale-if-slow: a role with a budget is served the cached value while a slow fetch goes on.

The system is "slow" because the fetch is held (never because of a clock or a sleep): the
tests prove what is served and what is stored, not how fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from decimal import Decimal

import pytest
from prometheus_client import CollectorRegistry

from adapters.billing.cached import BillingLifetimes
from app.cache.metrics import STALE_IF_SLOW, CacheMetrics
from app.cache.response_cache import ResponseCache
from app.cache.settings import CacheSettings
from app.cache.stale_if_slow import Patience, StaleIfSlowSettings, patience
from kernel.cache import CacheKey, Lifetime
from kernel.models import BillingCustomer, BillingCustomerId, CacheState, Source
from tests.builders import billing_customer
from tests.fakes import ManualClock

ADA = BillingCustomerId("cus_ada")
KEY = CacheKey(Source.BILLING, ADA, "customer")
#: Fresh for 10 s, stale-while-revalidate 50 s more; then fetched, but kept up to 600 s.
SETTINGS = CacheSettings(
    billing=BillingLifetimes(customer=Lifetime(fresh_seconds=10, stale_seconds=50)),
    max_stale_if_error_seconds=600,
    stale_if_slow=StaleIfSlowSettings(agent=0.01),
)
#: Past the stale-while-revalidate window, within the stale-if-error one.
PAST_STALE = 120


class HeldFetch:
    """An upstream read that answers only once its gate is open."""

    def __init__(self) -> None:
        self.calls = 0
        self.balance = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def one(self) -> BillingCustomer:
        self.calls += 1
        balance = self.balance
        await self.gate.wait()
        return billing_customer(ADA, "Ada Lovelace", balance=balance)

    async def many(self, ids: list[str]) -> Mapping[str, BillingCustomer]:
        return {ADA: await self.one()} if ADA in ids else {}


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
def as_agent() -> Iterator[None]:
    token = patience.set(Patience("agent"))
    yield
    patience.reset(token)


async def a_slow_system_behind_an_old_entry(
    cache: ResponseCache, fetch: HeldFetch, clock: ManualClock
) -> None:
    await cache.get(KEY, BillingCustomer, fetch.one)
    clock.advance(PAST_STALE)
    fetch.balance = 99
    fetch.gate.clear()


@pytest.mark.usefixtures("as_agent")
async def test_an_agent_is_served_the_old_value_stale_and_the_fetch_refreshes_it(
    cache: ResponseCache, clock: ManualClock, metrics: CacheMetrics
) -> None:
    fetch = HeldFetch()
    await a_slow_system_behind_an_old_entry(cache, fetch, clock)
    served = await cache.get(KEY, BillingCustomer, fetch.one)
    fetch.gate.set()
    await cache.settle()
    after = await cache.get(KEY, BillingCustomer, fetch.one)
    assert (served.cache_state, served.balance.amount) == (CacheState.STALE, Decimal(0))
    assert (after.cache_state, after.balance.amount) == (CacheState.HIT, Decimal(99))
    assert fetch.calls == 2
    counted = metrics.lookups.labels("BILLING", "customer", STALE_IF_SLOW)._value.get()
    assert counted == 1


@pytest.mark.usefixtures("as_agent")
async def test_a_batch_read_serves_the_old_value_stale_the_same_way(
    cache: ResponseCache, clock: ManualClock
) -> None:
    fetch = HeldFetch()
    await a_slow_system_behind_an_old_entry(cache, fetch, clock)
    served = await cache.get_many([KEY], BillingCustomer, fetch.many)
    fetch.gate.set()
    await cache.settle()
    after = await cache.get_many([KEY], BillingCustomer, fetch.many)
    assert (served[ADA].cache_state, served[ADA].balance.amount) == (CacheState.STALE, 0)
    assert (after[ADA].cache_state, after[ADA].balance.amount) == (CacheState.HIT, 99)


@pytest.mark.parametrize("role", ["analyst", None])
async def test_analysts_and_work_without_a_principal_wait_for_the_system(
    cache: ResponseCache, clock: ManualClock, role: str | None
) -> None:
    fetch = HeldFetch()
    await a_slow_system_behind_an_old_entry(cache, fetch, clock)
    token = patience.set(None if role is None else Patience(role))
    try:
        reading = asyncio.create_task(cache.get(KEY, BillingCustomer, fetch.one))
        await asyncio.sleep(0.05)  # well past the agents' budget: still waiting
        fetch.gate.set()
        served = await reading
    finally:
        patience.reset(token)
    assert (served.cache_state, served.balance.amount) == (CacheState.MISS, Decimal(99))


@pytest.mark.usefixtures("as_agent")
async def test_an_entry_too_old_for_stale_if_error_is_not_served_when_slow(
    cache: ResponseCache, clock: ManualClock
) -> None:
    fetch = HeldFetch()
    await a_slow_system_behind_an_old_entry(cache, fetch, clock)
    clock.advance(SETTINGS.max_stale_if_error_seconds)
    reading = asyncio.create_task(cache.get(KEY, BillingCustomer, fetch.one))
    await asyncio.sleep(0.05)
    fetch.gate.set()
    served = await reading
    assert (served.cache_state, served.balance.amount) == (CacheState.MISS, Decimal(99))


def test_the_budget_runs_from_the_request_s_arrival() -> None:
    budgets = StaleIfSlowSettings(agent=0.2)
    assert budgets.wait_until(Patience("agent", since=100.0)) == 100.2
    assert budgets.wait_until(Patience("analyst", since=100.0)) is None
    assert budgets.wait_until(None) is None


def test_the_budget_is_per_role_and_unknown_roles_wait() -> None:
    budgets = StaleIfSlowSettings()
    assert [budgets.budget(role) for role in ("agent", "ivr", "analyst", None, "budget")] == [
        0.15,
        0.15,
        None,
        None,
        None,
    ]
