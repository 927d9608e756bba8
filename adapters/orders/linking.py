"""The orders database read for identity linking: a customer reference joins the customer
with its phone or email, or the one whose billing record its legacy account number names.

The database keeps no change log the gateway could read from, so every pass reads every
reference (distinct, keyset-paged): a reference is a small row, and an unchanged one links
to the customer it already has.
"""

from __future__ import annotations

from datetime import datetime

from adapters.orders.port import OrdersAdapter, OrdersCustomer, OrdersCustomerRef
from kernel.linking import LinkPass, LinkRecord, SourceCursor, records_of


def to_record(customer: OrdersCustomer) -> LinkRecord:
    """A reference as linking reads it: its ``xref`` is the billing customer it names."""
    return LinkRecord(customer.ref, None, customer.email, customer.phone, customer.account)


def plan_pass(orders: OrdersAdapter, cursor: SourceCursor | None, next_time: datetime) -> LinkPass:
    """Every reference, whatever the cursor (the database has no change log)."""
    return LinkPass(records_of(orders.iter_customers(), to_record), False, lambda: next_time)


async def search(orders: OrdersAdapter, email: str | None, phone: str | None) -> list[LinkRecord]:
    """The references that are this email or phone."""
    return [to_record(found) for found in await orders.search_customers(email=email, phone=phone)]


async def get(orders: OrdersAdapter, external_id: str) -> LinkRecord | None:
    """The reference, if any order carries it."""
    found = await orders.get_customer(OrdersCustomerRef(external_id))
    return None if found is None else to_record(found)
