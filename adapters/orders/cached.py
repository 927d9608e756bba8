"""The orders database's reads through the response cache, and how long an order list stays
fresh.

The panel's read is cached per customer reference (``SCV_CACHE__ORDERS__...``); the sync's and
the read model's listings and live linking's searches pass straight through. The database
sends no webhooks, so a list is fresh for a short while and then refreshed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pydantic import Field

from adapters.orders.port import (
    Order,
    OrderList,
    OrdersAdapter,
    OrdersCustomer,
    OrdersCustomerRef,
)
from kernel.cache import CacheKey, Lifetime, LifetimeSection, ReadThrough
from kernel.models import Source


class OrdersLifetimes(LifetimeSection):
    """Orders resources, keyed by customer reference."""

    orders: Lifetime = Field(
        default=Lifetime(fresh_seconds=30, stale_seconds=600),
        description="a customer's orders, their lines and shipments",
    )


class CachedOrdersAdapter:
    """``OrdersAdapter`` whose order lists are cached per customer reference."""

    def __init__(self, inner: OrdersAdapter, cache: ReadThrough) -> None:
        self._inner = inner
        self._cache = cache

    async def list_orders(self, customer_ref: OrdersCustomerRef) -> OrderList:
        """Every order of the reference (cached as ``orders``)."""
        return await self._cache.get(
            CacheKey(Source.ORDERS, customer_ref, "orders"),
            OrderList,
            lambda: self._inner.list_orders(customer_ref),
        )

    def iter_customers(self) -> AsyncIterator[list[OrdersCustomer]]:
        """Not cached: the sync reads the database itself."""
        return self._inner.iter_customers()

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[OrdersCustomer]:
        """Not cached: passed to the database."""
        return await self._inner.search_customers(email=email, phone=phone)

    async def get_customer(self, customer_ref: OrdersCustomerRef) -> OrdersCustomer | None:
        """Not cached: passed to the database."""
        return await self._inner.get_customer(customer_ref)

    def iter_orders(self) -> AsyncIterator[list[tuple[OrdersCustomerRef, Order]]]:
        """Not cached: the read model pages through the database itself."""
        return self._inner.iter_orders()


if TYPE_CHECKING:
    # mypy proves here that the cached adapter implements its port in full.
    def _conforms(inner: OrdersAdapter, cache: ReadThrough) -> OrdersAdapter:
        return CachedOrdersAdapter(inner, cache)
