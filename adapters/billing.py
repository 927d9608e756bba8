"""Billing, Stripe-shaped: the system of record for money."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from adapters.models import (
    BillingCustomer,
    BillingCustomerId,
    InvoiceList,
    PaymentCardList,
    SubscriptionList,
)


class BillingAdapter(Protocol):
    """Reads customers, subscriptions, invoices and cards from the billing system."""

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        """One customer; ``UpstreamNotFound`` if the system has none with this id."""
        ...

    async def list_subscriptions(self, customer_id: BillingCustomerId) -> SubscriptionList:
        """Every subscription of the customer, canceled ones included."""
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
