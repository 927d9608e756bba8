"""The orders panel: the customer's orders and shipments, from the legacy orders database.

The orders database is their system of record; ``resolve_orders`` fetches the customer's
order list once (through the request's ``orders.history`` loader) and builds the whole panel
from it, so ``orders`` and ``openOrderCount`` need no further I/O.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.dataloader import DataLoader

from adapters.orders.port import (
    FINISHED_ORDER_STATUSES,
    OrderList,
    OrdersCustomerRef,
)
from adapters.orders.port import PORT as ORDERS
from adapters.orders.port import Order as OrderModel
from adapters.orders.port import OrderStatus as OrderStatusModel
from kernel import models
from kernel.access import VerificationLevel
from kernel.identity import CustomerId, CustomerRecord
from resolvers.extensions.masking import personal, withhold
from resolvers.loaders import each_concurrently
from resolvers.types.common import Info, Money, PanelMeta, check_first

strawberry.enum(OrderStatusModel, description="Canonical order status.")
OrderStatus = OrderStatusModel


@strawberry.type(description="One line of an order.")
class OrderLine:
    sku: str | None
    description: str | None
    quantity: int


@strawberry.type(description="An order's shipment, as the carrier reported it.")
class Shipment:
    owner: strawberry.Private[CustomerId]
    carrier: str | None
    #: Follows the parcel to the customer's door: personal, as the address it goes to.
    tracking_number: str | None = personal(VerificationLevel.MEDIUM, withhold)
    status: str | None = strawberry.field(description="The carrier's own status word.")


@strawberry.type(description="One order.")
class Order:
    number: strawberry.ID
    status: OrderStatus
    source_status: str = strawberry.field(description="The legacy system's own status code.")
    placed_at: datetime
    total: Money | None
    lines: list[OrderLine]
    shipment: Shipment | None

    @classmethod
    def from_model(cls, order: OrderModel, owner: CustomerId) -> Order:
        return cls(
            number=strawberry.ID(order.number),
            status=order.status,
            source_status=order.source_status,
            placed_at=order.placed_at,
            total=Money.from_model(order.total) if order.total is not None else None,
            lines=[
                OrderLine(sku=line.sku, description=line.description, quantity=line.quantity)
                for line in order.lines
            ],
            shipment=Shipment(
                owner=owner,
                carrier=order.shipment.carrier,
                tracking_number=order.shipment.tracking_number,
                status=order.shipment.status,
            )
            if order.shipment is not None
            else None,
        )


@strawberry.type(
    description="Orders and shipments, from the orders database (their system of record)."
)
class OrderHistory:
    owner: strawberry.Private[CustomerId]
    all_orders: strawberry.Private[tuple[OrderModel, ...]]
    open_order_count: int = strawberry.field(
        description="Orders not delivered, cancelled or returned."
    )
    meta: PanelMeta

    @classmethod
    def from_model(cls, found: OrderList, owner: CustomerId) -> OrderHistory:
        return cls(
            owner=owner,
            all_orders=found.items,
            open_order_count=sum(
                1 for order in found.items if order.status not in FINISHED_ORDER_STATUSES
            ),
            meta=PanelMeta(
                source=models.Source.ORDERS,
                source_record_id=strawberry.ID(found.customer_ref),
                fetched_at=found.fetched_at,
                cache_state=found.cache_state,
            ),
        )

    @strawberry.field(description="Newest first; `first` is 1..100.")
    def orders(self, first: int | None = 10) -> list[Order]:
        limit = check_first(first, default=10)
        return [Order.from_model(order, self.owner) for order in self.all_orders[:limit]]


async def resolve_orders(record: CustomerRecord, info: Info) -> OrderHistory | None:
    """The customer's orders panel; None when the orders database has no record of them."""
    link = record.link_for(models.Source.ORDERS)
    if link is None:
        return None
    loaders = info.context.loaders
    adapter = info.context.sources.port(ORDERS)

    def build() -> DataLoader[OrdersCustomerRef, OrderList]:
        return DataLoader(each_concurrently(adapter.list_orders, loaders.panel_concurrency))

    found = await loaders.keyed("orders.history", build).load(OrdersCustomerRef(link.external_id))
    return OrderHistory.from_model(found, record.id)
