"""The orders database's facts in the analysts' read model: order count, open orders, last
order, and the "customers with open orders" filter (its registry entry's ``facts``).

An order is open until it is delivered, cancelled or returned, as the panel's
``openOrderCount`` counts them. The whole refresh reads every order in bulk (without lines
or shipments), a page at a time; the store adds the pages up. The one-customer read serves
``scv sync``'s incremental runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime

from adapters.orders.port import FINISHED_ORDER_STATUSES, Order, OrdersAdapter, OrdersCustomerRef
from kernel.source_facts import FactFlag, FactKind, FactsSpec, FactValues, SourceFact


def order_facts(orders: Iterable[Order]) -> FactValues:
    """How many orders, how many open, and when the newest was placed."""
    count = open_count = 0
    newest: datetime | None = None
    for order in orders:
        count += 1
        if order.status not in FINISHED_ORDER_STATUSES:
            open_count += 1
        if newest is None or order.placed_at > newest:
            newest = order.placed_at
    return {"order_count": count, "open_order_count": open_count, "last_order_at": newest}


def read_all(orders: OrdersAdapter) -> AsyncIterator[list[tuple[OrdersCustomerRef, Order]]]:
    """Every order with its customer reference, a page at a time."""
    return orders.iter_orders()


async def read_one(orders: OrdersAdapter, ref: str) -> tuple[Order, ...]:
    """One customer reference's orders, read now."""
    history = await orders.list_orders(OrdersCustomerRef(ref))
    return history.items


FACTS = FactsSpec(
    facts=(
        SourceFact("order_count", FactKind.COUNT, "Orders placed, in the orders database."),
        SourceFact(
            "open_order_count", FactKind.COUNT, "Orders not delivered, cancelled or returned."
        ),
        SourceFact("last_order_at", FactKind.LATEST_TIME, "When the newest was placed."),
    ),
    description="Order counts and times.",
    records="orders",
    read_all=read_all,
    read_one=read_one,
    compute=order_facts,
    flags=(
        FactFlag(
            "has_open_orders",
            "open_order_count",
            "true: at least one order not delivered, cancelled or returned; false: none.",
        ),
    ),
)
