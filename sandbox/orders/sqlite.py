"""The same legacy orders as a SQLite file, in another naming scheme and other formats.

Snake-case tables and columns (``orders.order_ref``, ``order_items``, ``deliveries``), dates as
ISO text, amounts in minor units with a currency column, the customer reference as the
PostgreSQL database writes it: the gateway serves the same panel from either by settings
alone (``docs/orders.md`` shows both sections).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, insert

from sandbox.orders.data import legacy_orders
from sandbox.orders.schema import DELIVERIES, ORDER_ITEMS, ORDERS, sqlite
from sandbox.records import Dataset


def write_legacy_sqlite(path: Path, dataset: Dataset) -> int:
    """Write the legacy orders of ``dataset`` to a new SQLite file at ``path`` (replaced if
    it exists); the number of orders written."""
    path.unlink(missing_ok=True)
    orders = legacy_orders(dataset)
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            sqlite.create_all(conn)
            conn.execute(
                insert(ORDERS),
                [
                    {
                        "order_ref": order.number,
                        "customer": order.customer_ref,
                        "ordered_on": order.placed.isoformat(),
                        "state": order.status,
                        # A total the legacy system lost: the order has none.
                        "amount_minor": None if order.garbled_total else order.total_minor,
                        "currency": order.currency,
                    }
                    for order in orders
                ],
            )
            conn.execute(
                insert(ORDER_ITEMS),
                [
                    {
                        "order_ref": order.number,
                        "position": line.number,
                        "item_code": line.sku,
                        "item_name": line.description,
                        "units": line.quantity,
                    }
                    for order in orders
                    for line in order.lines
                ],
            )
            conn.execute(
                insert(DELIVERIES),
                [
                    {
                        "order_ref": order.number,
                        "courier": order.carrier,
                        "tracking": order.tracking,
                        "delivery_state": order.shipment_status,
                    }
                    for order in orders
                    if order.carrier is not None
                ],
            )
    finally:
        engine.dispose()
    return len(orders)
