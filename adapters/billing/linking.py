"""Billing read for identity linking: customers join the customer of the CRM contact naming
them, or one with their email or phone.

A customer is read in full or, from a saved time, as the customers created since
(``created[gte]``): Stripe lists nothing by update time, so changes to existing customers
reach the gateway by webhook, not through this listing.
"""

from __future__ import annotations

from datetime import datetime

from adapters.billing.port import BillingAdapter
from kernel.errors import UpstreamNotFound
from kernel.linking import LinkPass, LinkRecord, SourceCursor, records_of
from kernel.models import BillingCustomer, BillingCustomerId


def to_record(customer: BillingCustomer) -> LinkRecord:
    """A billing customer as linking reads it (it names no other record)."""
    return LinkRecord(customer.id, customer.name, customer.email, customer.phone)


def plan_pass(
    billing: BillingAdapter, cursor: SourceCursor | None, next_time: datetime
) -> LinkPass:
    """Every customer, or those created since the cursor's time."""
    since = cursor if isinstance(cursor, datetime) else None
    pages = (
        billing.iter_customers() if since is None else billing.iter_customers_created_since(since)
    )
    return LinkPass(records_of(pages, to_record), since is not None, lambda: next_time)


async def search(billing: BillingAdapter, email: str | None, phone: str | None) -> list[LinkRecord]:
    """The customers with this email or phone."""
    found = await billing.search_customers(email=email, phone=phone)
    return [to_record(customer) for customer in found]


async def get(billing: BillingAdapter, external_id: str) -> LinkRecord | None:
    """The customer with this id, if billing has it."""
    try:
        return to_record(await billing.get_customer(BillingCustomerId(external_id)))
    except UpstreamNotFound:
        return None
