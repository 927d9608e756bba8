"""The orders database's part in the read model: order count, open orders, last order.

``order_facts`` is the rule (an order is open until it is delivered, cancelled or returned,
as the panel's ``openOrderCount`` counts them); ``orders_pass`` reads every order in bulk
for ``refresh_facts`` and stages its facts per customer reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime
from typing import cast

from adapters.orders.port import FINISHED_ORDER_STATUSES, Order, OrdersAdapter, OrdersCustomerRef
from app.store.facts_writer import FactsRefreshSession, OrderFacts
from kernel.models import Source
from resolvers.context import Sources


def orders_of(sources: Sources) -> OrdersAdapter | None:
    """The orders database's adapter among ``sources`` (None where there is none)."""
    found = sources.by_source.get(Source.ORDERS)
    return cast(OrdersAdapter, found) if found is not None else None


def order_facts(external_id: str, orders: Iterable[Order]) -> OrderFacts:
    """How many orders, how many open, and when the newest was placed."""
    count = open_count = 0
    newest: datetime | None = None
    for order in orders:
        count += 1
        if order.status not in FINISHED_ORDER_STATUSES:
            open_count += 1
        if newest is None or order.placed_at > newest:
            newest = order.placed_at
    return OrderFacts(external_id, count, open_count, newest)


async def orders_pass(
    session: FactsRefreshSession,
    pages: AsyncIterator[list[tuple[OrdersCustomerRef, Order]]],
    clock: Callable[[], datetime],
) -> int:
    """Stage every order's facts, per reference, and apply them at once; orders read."""
    taken_at, seen = clock(), 0
    async with session.staged("orders"):
        async for page in pages:
            seen += len(page)
            by_ref: dict[str, list[Order]] = defaultdict(list)
            for ref, order in page:
                by_ref[ref].append(order)
            await session.stage_orders([order_facts(ref, items) for ref, items in by_ref.items()])
        await session.apply_orders(taken_at)
    return seen
