"""What the gateway reads from billing (its port): the Protocol the panels, the sync and the
cache see, implemented over HTTP by ``adapters.billing.client.HttpBillingAdapter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

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
from kernel.ports import SourcePort


class BillingAdapter(Protocol):
    """Reads customers, subscriptions, invoices and cards; cancels subscriptions (its facts)."""

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        """One customer; ``UpstreamNotFound`` if the system has none with this id."""
        ...

    async def list_subscriptions(self, customer_id: BillingCustomerId) -> SubscriptionList:
        """Every subscription of the customer, canceled ones included."""
        ...

    async def get_customer_with_subscriptions(
        self, customer_id: BillingCustomerId
    ) -> tuple[BillingCustomer, SubscriptionList]:
        """The customer and every subscription of theirs (canceled too), in as few calls
        as the system allows (one, for a customer with any subscription)."""
        ...

    async def list_invoices(self, customer_id: BillingCustomerId, limit: int) -> InvoiceList:
        """The customer's newest ``limit`` invoices (1..100), newest first."""
        ...

    async def list_payment_cards(self, customer_id: BillingCustomerId) -> PaymentCardList:
        """The customer's cards on file (brand, last four, expiry only)."""
        ...

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[BillingCustomer]:
        """Customers whose email (case-insensitive) or phone equals the one given."""
        ...

    def iter_customers(self) -> AsyncIterator[list[BillingCustomer]]:
        """Every customer, one page at a time, for the identity sync."""
        ...

    def iter_customers_created_since(self, since: datetime) -> AsyncIterator[list[BillingCustomer]]:
        """Customers created at or after ``since``, a page at a time (incremental sync).

        Stripe lists nothing by update time: changes to existing customers reach the
        gateway by webhook, not through this listing.
        """
        ...

    def iter_subscriptions(self) -> AsyncIterator[list[tuple[BillingCustomerId, Subscription]]]:
        """Every subscription of every customer (canceled too), with its customer, one page
        at a time, for the analysts' read model."""
        ...

    async def cancel_subscription_at_period_end(
        self, subscription_id: SubscriptionId, idempotency_key: str
    ) -> None:
        """Have the subscription end when its period does; ``idempotency_key`` makes a
        repeat of the call answer the first one's result."""
        ...


#: Its adapter among the gateway's sources: ``sources.port(PORT)`` is typed ``BillingAdapter``.
PORT: SourcePort[BillingAdapter] = SourcePort(Source.BILLING)
