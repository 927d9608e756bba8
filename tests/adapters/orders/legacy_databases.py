"""The sandbox's legacy orders database, on the session's PostgreSQL and as a SQLite file,
and the settings that read each (the same panel from both, by settings alone)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from adapters.orders.settings import OrdersSettings, sandbox_reader_url
from sandbox.data.generate import generate_dataset
from sandbox.orders.postgres import create_legacy_database
from sandbox.orders.sqlite import write_legacy_sqlite

#: A small dataset: the named customers and 60 generated people.
DATASET = generate_dataset(seed=42, customers=60)

ADA_REF = "020 7946 0018"
BARBARA_REF = "cus_barbara"


async def postgres_orders(server_url: str) -> OrdersSettings:
    """The legacy database made on ``server_url``'s server; settings reading it through the
    read-only role (the defaults describe its schema)."""
    await create_legacy_database(server_url, DATASET)
    return OrdersSettings(url=SecretStr(sandbox_reader_url(server_url)))


def sqlite_orders(path: Path) -> OrdersSettings:
    """The same orders in a SQLite file of another naming scheme; settings reading it."""
    write_legacy_sqlite(path, DATASET)
    return OrdersSettings.model_validate(
        {
            "url": f"sqlite+aiosqlite:///{path}",
            "orders_table": "orders",
            "lines_table": "order_items",
            "shipments_table": "deliveries",
            "order_columns": {
                "number": "order_ref",
                "customer_ref": "customer",
                "placed_at": "ordered_on",
                "status": "state",
                "total": "amount_minor",
                "currency": "currency",
            },
            "line_columns": {
                "order_number": "order_ref",
                "line_number": "position",
                "sku": "item_code",
                "description": "item_name",
                "quantity": "units",
            },
            "shipment_columns": {
                "order_number": "order_ref",
                "carrier": "courier",
                "tracking_number": "tracking",
                "status": "delivery_state",
            },
            "date_format": "iso",
            "amount_format": "minor_units",
        }
    )
