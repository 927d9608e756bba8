"""Per-request DataLoaders: one upstream call per source, resource and key, batched.

Every panel reaches its system through a loader, so fields that need the same record share
one call, and a page of customers shares one batch call where the vendor has a batch read
(CRM batch read). Where a vendor has no batch read, the keys of one tick are fetched
concurrently, at most ``panel_concurrency`` at once. A failure for one key is that key's
failure only: it is handed back to the loader as the exception, and the loader raises it in
the resolvers that asked for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar, cast

from strawberry.dataloader import DataLoader

from adapters.billing.port import PORT as BILLING
from adapters.billing.port import BillingAdapter
from adapters.crm.port import PORT as CRM
from adapters.crm.port import CrmAdapter
from adapters.support.port import PORT as SUPPORT
from adapters.support.port import SupportAdapter
from kernel.customer_facts import CustomerFacts, CustomerFactsLookup
from kernel.errors import UpstreamNotFound
from kernel.identity import CustomerId, CustomerRecord, IdentityStore
from kernel.identity_evidence import ContactKey, DuplicateLead, IdentityEvidence
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    CrmContactId,
    InvoiceList,
    PaymentCardList,
    Source,
    SubscriptionList,
    SupportUserId,
    TicketList,
)
from kernel.ports import SourcePort

P = TypeVar("P")
K = TypeVar("K")
T = TypeVar("T")


#: Most calls at once per batch to a system without a batch read (``Settings.customers``).
DEFAULT_PANEL_CONCURRENCY = 10


def each_concurrently(
    fetch: Callable[[K], Awaitable[T]], limit: int
) -> Callable[[list[K]], Awaitable[Sequence[T | BaseException]]]:
    """A batch function for a vendor without a batch read: one call per key, at most
    ``limit`` at once, so that a page of 100 customers does not open 100 calls to one
    system together (a semaphore: the bulkhead bounds the whole process, this one request)."""

    async def load(keys: list[K]) -> Sequence[T | BaseException]:
        if len(keys) == 1:
            # The agent desktop's case (one customer): no gate, no task, no gather to pay for.
            try:
                return [await fetch(keys[0])]
            except Exception as exc:
                return [exc]
        gate = asyncio.Semaphore(limit)

        async def one(key: K) -> T:
            async with gate:
                return await fetch(key)

        return await asyncio.gather(*(one(key) for key in keys), return_exceptions=True)

    return load


class Loaders:
    """The DataLoaders of one request."""

    def __init__(
        self,
        *,
        store: IdentityStore,
        sources: Mapping[Source, object],
        facts: CustomerFactsLookup | None = None,
        panel_concurrency: int = DEFAULT_PANEL_CONCURRENCY,
    ) -> None:
        self._store = store
        self._sources = sources
        self._facts = facts
        self._limit = panel_concurrency
        self._keyed: dict[str, DataLoader[Any, Any]] = {}

    def _port(self, key: SourcePort[P]) -> P:
        """The adapter of ``key``'s source, as its port; looked up when a loader is built,
        so a set of sources without it fails only the panels that ask for it."""
        found = self._sources.get(key.source)
        if found is None:
            raise LookupError(f"no adapter for the source {key.source.value}")
        return cast(P, found)

    @cached_property
    def _billing(self) -> BillingAdapter:
        return self._port(BILLING)

    @cached_property
    def _crm(self) -> CrmAdapter:
        return self._port(CRM)

    @cached_property
    def _support(self) -> SupportAdapter:
        return self._port(SUPPORT)

    # Each loader is built the first time a resolver asks for it: a request reads a few
    # of them (the agent desktop's whole view five), and a DataLoader is not free to build.

    @property
    def panel_concurrency(self) -> int:
        """Most calls at once per batch to a system without a batch read (``each_concurrently``)."""
        return self._limit

    def keyed(self, name: str, build: Callable[[], DataLoader[K, T]]) -> DataLoader[K, T]:
        """This request's loader called ``name``, built by ``build`` the first time: a
        source's own panel keeps its loaders here (``resolvers/types/<source>.py``) rather
        than in a property of this class. ``name`` should start with the source's name."""
        found = self._keyed.get(name)
        if found is None:
            found = self._keyed[name] = build()
        return cast(DataLoader[K, T], found)

    @cached_property
    def customer_facts(self) -> DataLoader[CustomerId, CustomerFacts | None]:
        return DataLoader(self._load_facts)

    @cached_property
    def customers(self) -> DataLoader[CustomerId, CustomerRecord | None]:
        return DataLoader(self._load_customers)

    @cached_property
    def crm_contacts(self) -> DataLoader[CrmContactId, CrmContact]:
        return DataLoader(self._load_crm_contacts)

    @cached_property
    def billing_customers(self) -> DataLoader[BillingCustomerId, BillingCustomer]:
        return DataLoader(each_concurrently(self._billing.get_customer, self._limit))

    @cached_property
    def billing_customers_with_subscriptions(
        self,
    ) -> DataLoader[BillingCustomerId, tuple[BillingCustomer, SubscriptionList]]:
        """The customer and their subscriptions in one read (a panel asking for both)."""
        return DataLoader(
            each_concurrently(self._billing.get_customer_with_subscriptions, self._limit)
        )

    @cached_property
    def subscriptions(self) -> DataLoader[BillingCustomerId, SubscriptionList]:
        return DataLoader(each_concurrently(self._billing.list_subscriptions, self._limit))

    @cached_property
    def invoices(self) -> DataLoader[tuple[BillingCustomerId, int], InvoiceList]:
        return DataLoader(each_concurrently(self._fetch_invoices, self._limit))

    @cached_property
    def payment_cards(self) -> DataLoader[BillingCustomerId, PaymentCardList]:
        return DataLoader(each_concurrently(self._billing.list_payment_cards, self._limit))

    @cached_property
    def tickets(self) -> DataLoader[SupportUserId, TicketList]:
        return DataLoader(each_concurrently(self._support.list_requested_tickets, self._limit))

    def _fetch_invoices(self, key: tuple[BillingCustomerId, int]) -> Awaitable[InvoiceList]:
        customer_id, limit = key
        return self._billing.list_invoices(customer_id, limit)

    async def _load_customers(self, ids: list[CustomerId]) -> list[CustomerRecord | None]:
        found = await self._store.get_customers(ids)
        return [found.get(customer_id) for customer_id in ids]

    async def _load_facts(self, ids: list[CustomerId]) -> list[CustomerFacts | None]:
        if self._facts is None:
            return [None for _ in ids]
        found = await self._facts.get_facts(ids)
        return [found.get(customer_id) for customer_id in ids]

    async def _load_crm_contacts(self, ids: list[CrmContactId]) -> list[CrmContact | BaseException]:
        found = await self._crm.get_contacts(ids)
        return [
            found.get(contact_id) or UpstreamNotFound(Source.CRM, "no such contact")
            for contact_id in ids
        ]


class IdentityEvidenceLoaders:
    """The evidence DataLoaders of one request (never shared between requests).

    Each is built the first time a resolver asks for it: most requests (the agent desktop's
    whole view) ask for no evidence at all.
    """

    def __init__(self, evidence: IdentityEvidence) -> None:
        self._store = evidence.store
        self.system_of_record = evidence.system_of_record
        self.fallback_order = evidence.fallback_order
        self.record_nouns = evidence.record_nouns

    @cached_property
    def contact_keys(self) -> DataLoader[CustomerId, tuple[ContactKey, ...]]:
        async def load_keys(ids: list[CustomerId]) -> list[tuple[ContactKey, ...]]:
            found = await self._store.contact_keys(ids)
            return [found.get(customer_id, ()) for customer_id in ids]

        return DataLoader(load_keys)

    @cached_property
    def duplicate_leads(self) -> DataLoader[CustomerId, tuple[DuplicateLead, ...]]:
        async def load_leads(ids: list[CustomerId]) -> list[tuple[DuplicateLead, ...]]:
            found = await self._store.duplicate_leads(ids)
            return [found.get(customer_id, ()) for customer_id in ids]

        return DataLoader(load_leads)
