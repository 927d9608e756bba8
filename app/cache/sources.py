"""Adapters that read through the response cache, with the very Protocols they wrap.

The reads the panels make (a billing customer, subscriptions, invoices, cards; CRM contacts;
support tickets) are cached per record. Searches and the bulk listings the identity sync
pages through pass straight through: a search's answer is a set of records keyed by an
email or a phone, which no record's invalidation could reach, and the sync must see the
systems as they are. The IVR is not cached: its contact attributes belong to one live call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from adapters.billing.port import BillingAdapter
from adapters.crm.port import CrmAdapter
from adapters.support.port import SupportAdapter, UserChanges
from app.cache.keys import CacheKey
from app.cache.response_cache import ResponseCache
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    CrmContactId,
    InvoiceList,
    PaymentCardList,
    Source,
    Subscription,
    SubscriptionList,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketList,
)
from resolvers.context import Sources


class CachedBillingAdapter:
    """``BillingAdapter`` whose per-customer reads go through the cache."""

    def __init__(self, inner: BillingAdapter, cache: ResponseCache) -> None:
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


class CachedCrmAdapter:
    """``CrmAdapter`` whose batch contact read is cached per contact."""

    def __init__(self, inner: CrmAdapter, cache: ResponseCache) -> None:
        self._inner = inner
        self._cache = cache

    async def get_contacts(self, ids: Sequence[CrmContactId]) -> dict[CrmContactId, CrmContact]:
        """The contacts with these ids: cached ones from the cache, the rest in one read."""

        async def fetch_many(wanted: list[str]) -> dict[str, CrmContact]:
            found = await self._inner.get_contacts([CrmContactId(i) for i in wanted])
            return {str(contact_id): contact for contact_id, contact in found.items()}

        keys = [CacheKey(Source.CRM, contact_id, "contact") for contact_id in dict.fromkeys(ids)]
        found = await self._cache.get_many(keys, CrmContact, fetch_many)
        return {CrmContactId(contact_id): contact for contact_id, contact in found.items()}

    async def search_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]:
        """Not cached: passed to the system."""
        return await self._inner.search_contacts(email=email, phone=phone)

    def iter_contacts(self) -> AsyncIterator[list[CrmContact]]:
        """Not cached: the sync pages through the system itself."""
        return self._inner.iter_contacts()

    def iter_contacts_modified_since(self, since: datetime) -> AsyncIterator[list[CrmContact]]:
        """Not cached: the incremental sync pages through the system itself."""
        return self._inner.iter_contacts_modified_since(since)


class CachedSupportAdapter:
    """``SupportAdapter`` whose ticket lists are cached per user."""

    def __init__(self, inner: SupportAdapter, cache: ResponseCache) -> None:
        self._inner = inner
        self._cache = cache

    async def get_users(self, ids: Sequence[SupportUserId]) -> dict[SupportUserId, SupportUser]:
        """Not cached: no panel reads users (the sync and live linking do)."""
        return await self._inner.get_users(ids)

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        """Every ticket the user requested (cached as ``tickets``)."""
        return await self._cache.get(
            CacheKey(Source.SUPPORT, user_id, "tickets"),
            TicketList,
            lambda: self._inner.list_requested_tickets(user_id),
        )

    async def search_users(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[SupportUser]:
        """Not cached: passed to the system."""
        return await self._inner.search_users(email=email, phone=phone)

    def iter_users(self) -> AsyncIterator[list[SupportUser]]:
        """Not cached: the sync pages through the system itself."""
        return self._inner.iter_users()

    def iter_user_changes(self, start: datetime | str) -> AsyncIterator[UserChanges]:
        """Not cached: the incremental sync pages through the system itself."""
        return self._inner.iter_user_changes(start)

    def iter_tickets(self) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
        """Not cached: the facts refresh pages through the system itself."""
        return self._inner.iter_tickets()


def cached_sources(sources: Sources, cache: ResponseCache) -> Sources:
    """``sources`` with billing, CRM and support reading through ``cache`` (IVR as it is)."""
    return Sources(
        billing=CachedBillingAdapter(sources.billing, cache),
        crm=CachedCrmAdapter(sources.crm, cache),
        support=CachedSupportAdapter(sources.support, cache),
        ivr=sources.ivr,
    )


if TYPE_CHECKING:
    # mypy proves here that each cached adapter implements its Protocol in full.
    def _conforms(
        billing: BillingAdapter, crm: CrmAdapter, support: SupportAdapter, cache: ResponseCache
    ) -> None:
        _billing: BillingAdapter = CachedBillingAdapter(billing, cache)
        _crm: CrmAdapter = CachedCrmAdapter(crm, cache)
        _support: SupportAdapter = CachedSupportAdapter(support, cache)
