"""The orders database's reads through the response cache: the panel's cached, the rest not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from adapters.orders.cached import CachedOrdersAdapter
from adapters.orders.port import OrdersCustomerRef, OrderStatus
from app.cache.metrics import CacheMetrics
from app.cache.response_cache import ResponseCache
from app.cache.settings import CacheSettings
from app.cache.sources import cached_adapters
from kernel.models import CacheState, Source
from tests.fake_orders import FakeOrdersAdapter, order

ADA = OrdersCustomerRef("020 7946 0018")


@pytest.fixture
async def cache() -> AsyncIterator[ResponseCache]:
    cache = await ResponseCache.open(CacheSettings(), CacheMetrics.create(CollectorRegistry()))
    yield cache
    await cache.close()


async def test_a_customers_orders_are_cached_and_searches_are_not(cache: ResponseCache) -> None:
    fake = FakeOrdersAdapter({ADA: [order("SO1", OrderStatus.SHIPPED)]})
    wrapped = cached_adapters({Source.ORDERS: fake}, cache)[Source.ORDERS]
    assert isinstance(wrapped, CachedOrdersAdapter)

    first = await wrapped.list_orders(ADA)
    second = await wrapped.list_orders(ADA)
    await wrapped.search_customers(phone="+442079460018")
    await wrapped.search_customers(phone="+442079460018")

    assert (first.cache_state, second.cache_state) == (CacheState.MISS, CacheState.HIT)
    assert second.items == first.items
    assert fake.calls == ["list_orders", "search_customers", "search_customers"]
