"""Billing's reads through the response cache, and how long each resource stays fresh.

The panels' reads are cached per record (``SCV_CACHE__BILLING__...``); searches and the
bulk listings the sync and the read model page through pass straight through: the sync must
see the system as it is, and no record's invalidation could reach a search's answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from adapters.billing.port import BillingAdapter
from kernel.cache import CacheKey, Lifetime, LifetimeSection, ReadThrough
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    InvoiceList,
    PaymentCardList,
    Source,
    Subscription,
    SubscriptionId,
    SubscriptionList,
)


class BillingLifetimes(LifetimeSection):
    """Billing resources, keyed by billing customer id."""

    customer: Lifetime = Field(
        default=Lifetime(fresh_seconds=30, stale_seconds=300),
        description="the customer record: balance and delinquency",
    )
    subscriptions: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600), description="subscriptions"
    )
    invoices: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600),
        description="invoice lists (one entry per `first` asked for)",
    )
    payment_cards: Lifetime = Field(
        default=Lifetime(fresh_seconds=300, stale_seconds=3600), description="cards on file"
    )


class CachedBillingAdapter:
    """``BillingAdapter`` whose per-customer reads go through the cache."""

    def __init__(self, inner: BillingAdapter, cache: ReadThrough) -> None:
        self._inner = inner
        self._cache = cache

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        """One customer (cached as ``customer``)."""
        return await self._cache.get(
            CacheKey(Source.BILLING, customer_id, "customer"),
            BillingCustomer,
            lambda: self._inner.get_customer(customer_id),
        )

    async def list_subscriptions(self, customer_id: BillingCustomerId) -> SubscriptionList:
        """Every subscription of the customer (cached as ``subscriptions``)."""
        return await self._cache.get(
            CacheKey(Source.BILLING, customer_id, "subscriptions"),
            SubscriptionList,
            lambda: self._inner.list_subscriptions(customer_id),
        )

    async def get_customer_with_subscriptions(
        self, customer_id: BillingCustomerId
    ) -> tuple[BillingCustomer, SubscriptionList]:
        """The customer and their subscriptions, each its own entry (``customer``,
        ``subscriptions``, with their own lifetimes), both filled by one call to billing.

        Each entry fetched (missing, or refreshed when stale) asks the one combined read:
        the first to ask starts it, the other awaits the same call, so two missing entries
        cost one upstream call, and an entry still fresh costs none.
        """
        combined: asyncio.Future[tuple[BillingCustomer, SubscriptionList]] | None = None

        def both() -> asyncio.Future[tuple[BillingCustomer, SubscriptionList]]:
            nonlocal combined
            if combined is None:
                combined = asyncio.ensure_future(
                    self._inner.get_customer_with_subscriptions(customer_id)
                )
            return combined

        async def customer() -> BillingCustomer:
            return (await both())[0]

        async def subscriptions() -> SubscriptionList:
            return (await both())[1]

        # Together, not one after the other: each waits at most its role's stale-if-slow
        # budget, and the two budgets must not add up.
        found_customer, found_subscriptions = await asyncio.gather(
            self._cache.get(
                CacheKey(Source.BILLING, customer_id, "customer"), BillingCustomer, customer
            ),
            self._cache.get(
                CacheKey(Source.BILLING, customer_id, "subscriptions"),
                SubscriptionList,
                subscriptions,
            ),
        )
        return found_customer, found_subscriptions

    async def list_invoices(self, customer_id: BillingCustomerId, limit: int) -> InvoiceList:
        """The newest ``limit`` invoices (cached as ``invoices``, one entry per limit)."""
        return await self._cache.get(
            CacheKey(Source.BILLING, customer_id, "invoices", str(limit)),
            InvoiceList,
            lambda: self._inner.list_invoices(customer_id, limit),
        )

    async def list_payment_cards(self, customer_id: BillingCustomerId) -> PaymentCardList:
        """Cards on file (cached as ``payment_cards``)."""
        return await self._cache.get(
            CacheKey(Source.BILLING, customer_id, "payment_cards"),
            PaymentCardList,
            lambda: self._inner.list_payment_cards(customer_id),
        )

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[BillingCustomer]:
        """Not cached: passed to the system."""
        return await self._inner.search_customers(email=email, phone=phone)

    def iter_customers(self) -> AsyncIterator[list[BillingCustomer]]:
        """Not cached: the sync pages through the system itself."""
        return self._inner.iter_customers()

    def iter_customers_created_since(self, since: datetime) -> AsyncIterator[list[BillingCustomer]]:
        """Not cached: the incremental sync pages through the system itself."""
        return self._inner.iter_customers_created_since(since)

    def iter_subscriptions(self) -> AsyncIterator[list[tuple[BillingCustomerId, Subscription]]]:
        """Not cached: the facts refresh pages through the system itself."""
        return self._inner.iter_subscriptions()

    async def cancel_subscription_at_period_end(
        self, subscription_id: SubscriptionId, idempotency_key: str
    ) -> None:
        """Not cached: written to the system (the write service invalidates the customer)."""
        await self._inner.cancel_subscription_at_period_end(subscription_id, idempotency_key)


if TYPE_CHECKING:
    # mypy proves here that the cached adapter implements its port in full.
    def _conforms(inner: BillingAdapter, cache: ReadThrough) -> BillingAdapter:
        return CachedBillingAdapter(inner, cache)
