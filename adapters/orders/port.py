"""What the gateway reads from the orders database (its port), and the canonical orders.

The Protocol the panel, the sync and the read model see; implemented over SQL by
``adapters.orders.client.SqlOrdersAdapter`` and read through the cache by
``adapters.orders.cached.CachedOrdersAdapter``. The models are this source's canonical
vocabulary (``kernel.models``' conventions: frozen, ``fetched_at`` on what a panel shows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from typing import NewType, Protocol

from kernel.models import CacheState, Canonical, Money, Source
from kernel.ports import SourcePort

#: How the orders database names a customer, as it spells it (a phone as written, an email,
#: a legacy account number): the external id of the customer's ORDERS link.
OrdersCustomerRef = NewType("OrdersCustomerRef", str)


class OrderStatus(StrEnum):
    """Canonical order status; UNKNOWN: a legacy code with no mapping (reported)."""

    PLACED = "PLACED"
    BACKORDERED = "BACKORDERED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"
    RETURNED = "RETURNED"
    UNKNOWN = "UNKNOWN"


#: Orders no longer under way: the rest are open (``openOrderCount``, the read model).
FINISHED_ORDER_STATUSES = frozenset(
    {OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED}
)


class OrderLine(Canonical):
    sku: str | None
    description: str | None
    quantity: int


class Shipment(Canonical):
    carrier: str | None
    tracking_number: str | None
    #: The carrier's own word, as the database holds it.
    status: str | None


class Order(Canonical):
    number: str
    status: OrderStatus
    source_status: str
    placed_at: datetime
    total: Money | None
    lines: tuple[OrderLine, ...] = ()
    shipment: Shipment | None = None


class OrderList(Canonical):
    """Every order of one customer reference, newest first."""

    customer_ref: OrdersCustomerRef
    items: tuple[Order, ...]
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


class OrdersCustomer(Canonical):
    """A customer as the orders database knows one: only the reference its rows carry."""

    ref: OrdersCustomerRef
    email: str | None = None
    #: E.164, when the reference is a phone.
    phone: str | None = None
    #: The billing customer id, when the reference is a legacy account number.
    account: str | None = None


class OrdersAdapter(Protocol):
    """Reads the legacy orders database."""

    async def list_orders(self, customer_ref: OrdersCustomerRef) -> OrderList:
        """Every order of this customer reference, newest first, with lines and shipment.

        A row that cannot be read (a date or amount in no known format) is left out and
        counted; a status code with no mapping is UNKNOWN and reported.
        """
        ...

    def iter_customers(self) -> AsyncIterator[list[OrdersCustomer]]:
        """Every distinct customer reference, a page at a time (the sync)."""
        ...

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[OrdersCustomer]:
        """The references with this email or E.164 phone (live linking)."""
        ...

    async def get_customer(self, customer_ref: OrdersCustomerRef) -> OrdersCustomer | None:
        """The reference if any order carries it."""
        ...

    def iter_orders(self) -> AsyncIterator[list[tuple[OrdersCustomerRef, Order]]]:
        """Every order with its customer reference, a page at a time (the read model),
        without lines or shipments."""
        ...


#: Its adapter among the gateway's sources: ``sources.port(PORT)`` is typed ``OrdersAdapter``.
PORT: SourcePort[OrdersAdapter] = SourcePort(Source.ORDERS)
