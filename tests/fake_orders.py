"""A fake orders database (``OrdersAdapter``) for tests that are not about SQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from adapters.orders.port import (
    Order,
    OrderList,
    OrdersAdapter,
    OrdersCustomer,
    OrdersCustomerRef,
    OrderStatus,
)
from adapters.orders.rows import to_customer
from adapters.orders.settings import OrdersSettings
from kernel.errors import UpstreamError, UpstreamNotFound
from kernel.models import Money, Source
from kernel.normalize import normalize_email

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def order(number: str, status: OrderStatus, day: int = 1, total: str = "10.00") -> Order:
    """An order placed on ``day`` of May 2024, with no lines."""
    return Order(
        number=number,
        status=status,
        source_status=status.value[:3],
        placed_at=datetime(2024, 5, day, tzinfo=UTC),
        total=Money(amount=Decimal(total), currency="GBP"),
    )


class FakeOrdersAdapter:
    """Orders by customer reference (as the database spells it); ``fail`` fails every read."""

    def __init__(
        self,
        orders: Mapping[str, Sequence[Order]] | None = None,
        settings: OrdersSettings | None = None,
    ) -> None:
        self.orders = {ref: list(items) for ref, items in (orders or {}).items()}
        self.settings = settings or OrdersSettings()
        self.fail: UpstreamError | None = None
        self.calls: list[str] = []

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.fail is not None:
            raise self.fail

    async def list_orders(self, customer_ref: OrdersCustomerRef) -> OrderList:
        self._check("list_orders")
        if customer_ref not in self.orders:
            raise UpstreamNotFound(Source.ORDERS, "no orders of that reference")
        items = sorted(self.orders[customer_ref], key=lambda o: o.placed_at, reverse=True)
        return OrderList(customer_ref=customer_ref, items=tuple(items), fetched_at=T0)

    async def iter_customers(self) -> AsyncIterator[list[OrdersCustomer]]:
        self._check("iter_customers")
        refs = sorted(self.orders)
        if refs:
            yield [to_customer(ref, self.settings) for ref in refs]

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[OrdersCustomer]:
        self._check("search_customers")
        found = [to_customer(ref, self.settings) for ref in sorted(self.orders)]
        return [
            each
            for each in found
            if (phone is not None and each.phone == phone)
            or (email is not None and each.email == normalize_email(email))
        ]

    async def get_customer(self, customer_ref: OrdersCustomerRef) -> OrdersCustomer | None:
        self._check("get_customer")
        if customer_ref not in self.orders:
            return None
        return to_customer(customer_ref, self.settings)

    async def iter_orders(self) -> AsyncIterator[list[tuple[OrdersCustomerRef, Order]]]:
        self._check("iter_orders")
        page = [
            (OrdersCustomerRef(ref), each)
            for ref, items in sorted(self.orders.items())
            for each in items
        ]
        if page:
            yield page


def _conforms(fake: FakeOrdersAdapter) -> OrdersAdapter:
    return fake
