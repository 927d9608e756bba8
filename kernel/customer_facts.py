"""Many customers at once: the filter, order and rows of the ``customer_facts`` read model.

Analysts ask for pages of customers by facts (delinquent, open tickets, subscription
status, last contact, country, linked sources, and the facts registered sources declare of
their own: ``kernel.source_facts``). Those questions are answered by the store's
read model, as indexed SQL, without one upstream call; ``CustomerFactsStore`` is what the
resolvers (the ``customers`` connection) and the export jobs need from it, and
``app.store.facts`` implements it over PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Protocol

from kernel.identity import CustomerId
from kernel.models import Source
from kernel.source_facts import SourceFactsRow


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Which customers: every condition given must hold (None or empty = no condition).

    ``subscription_status_in`` holds canonical ``SubscriptionStatus`` names (``ACTIVE``);
    ``linked_to`` / ``missing_from`` say which systems must / must not know the customer.
    """

    delinquent: bool | None = None
    min_open_tickets: int | None = None
    subscription_status_in: frozenset[str] = frozenset()
    last_contact_before: datetime | None = None
    last_contact_after: datetime | None = None
    country_in: frozenset[str] = frozenset()
    linked_to: frozenset[Source] = frozenset()
    missing_from: frozenset[Source] = frozenset()
    #: The registered sources' own filters (``kernel.source_facts.FactFlag``): each flag's
    #: store key (``flag_key``: ``<SOURCE>.<flag name>``) and whether it must hold (True)
    #: or not (False: the fact is not positive, or the source does not know the customer).
    source_flags: frozenset[tuple[str, bool]] = frozenset()


class CustomerOrderField(Enum):
    """What a page of customers is sorted by; ties are broken by customer id."""

    CREATED_AT = "created_at"
    BALANCE = "balance"
    OPEN_TICKETS = "open_ticket_count"
    LAST_CONTACT_AT = "last_contact_at"


@dataclass(frozen=True, slots=True)
class CustomerOrder:
    """A sort order: a field and a direction."""

    field: CustomerOrderField = CustomerOrderField.CREATED_AT
    descending: bool = False


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """One customer's row of the read model, and when each group of facts was taken.

    A fact is None when its system does not know the customer or has not been read yet.
    """

    customer_id: CustomerId
    display_name: str
    created_at: datetime
    linked_sources: tuple[Source, ...]
    balance: Decimal | None
    currency: str | None
    delinquent: bool | None
    subscription_status: str | None
    open_ticket_count: int | None
    last_ticket_at: datetime | None
    last_contact_at: datetime | None
    country: str | None
    billing_taken_at: datetime | None
    support_taken_at: datetime | None
    crm_taken_at: datetime | None
    #: The facts registered sources declare (``kernel.source_facts``), by source; a source
    #: that does not know the customer, or was not read yet, is absent.
    source_facts: Mapping[Source, SourceFactsRow] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerFactsPage:
    """One page of a filtered, ordered list of customers (keyset pagination)."""

    rows: Sequence[CustomerFacts]
    #: Opaque cursor of each row, same order as ``rows``.
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool


class CustomerFactsStore(Protocol):
    """The read model's queries: pages for the connection, a stream for exports."""

    async def page_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        first: int,
        after: str | None,
    ) -> CustomerFactsPage:
        """``first`` customers after the cursor ``after`` (from the start when None).

        Raises ``ValueError`` for a cursor this store did not issue for this order.
        """
        ...

    async def count_customers_matching(self, customer_filter: CustomerFilter) -> int:
        """How many customers the filter selects (``totalCount``)."""
        ...

    def stream_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> AsyncIterator[tuple[list[CustomerFacts], str]]:
        """Every customer the filter selects, in batches, each with the cursor after it.

        An export resumes from the last cursor it recorded (after a restart).
        """
        ...


class CustomerFactsLookup(Protocol):
    """The read model's rows of given customers (``Customer.facts`` on any customer)."""

    async def get_facts(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerFacts]:
        """The facts of these customers; customers without a row yet are absent."""
        ...


class CustomerFactsReader(CustomerFactsStore, CustomerFactsLookup, Protocol):
    """Everything the graph reads from the read model: pages, counts and rows by id."""
