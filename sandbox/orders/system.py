"""The legacy orders database's entry in the sandbox-system registry: no HTTP, a database.

Given a PostgreSQL server (``--database-server``) it is created there as ``legacy_orders``,
and the gateway reads it through the read-only role; given a folder for files
(``--files-dir``) the same orders are written to ``legacy_orders.sqlite`` there in the other
naming scheme, and with no server the gateway is pointed at that file, its names and formats
set by settings alone (docs/orders.md).
"""

from __future__ import annotations

import asyncio

from sandbox.entry import SandboxServers, SandboxSystem
from sandbox.orders.postgres import DATABASE, create_legacy_database, reader_url
from sandbox.orders.sqlite import write_legacy_sqlite
from sandbox.records import Dataset

#: The SQLite file's name in the sandbox's folder for files.
SQLITE_FILE = "legacy_orders.sqlite"

#: The orders section of the SQLite file's naming scheme and formats (``sqlite.py``).
_SQLITE_SETTINGS = {
    "ORDERS_TABLE": "orders",
    "LINES_TABLE": "order_items",
    "SHIPMENTS_TABLE": "deliveries",
    "DATE_FORMAT": "iso",
    "AMOUNT_FORMAT": "minor_units",
    "ORDER_COLUMNS__NUMBER": "order_ref",
    "ORDER_COLUMNS__CUSTOMER_REF": "customer",
    "ORDER_COLUMNS__PLACED_AT": "ordered_on",
    "ORDER_COLUMNS__STATUS": "state",
    "ORDER_COLUMNS__TOTAL": "amount_minor",
    "ORDER_COLUMNS__CURRENCY": "currency",
    "LINE_COLUMNS__ORDER_NUMBER": "order_ref",
    "LINE_COLUMNS__LINE_NUMBER": "position",
    "LINE_COLUMNS__SKU": "item_code",
    "LINE_COLUMNS__DESCRIPTION": "item_name",
    "LINE_COLUMNS__QUANTITY": "units",
    "SHIPMENT_COLUMNS__ORDER_NUMBER": "order_ref",
    "SHIPMENT_COLUMNS__CARRIER": "courier",
    "SHIPMENT_COLUMNS__TRACKING_NUMBER": "tracking",
    "SHIPMENT_COLUMNS__STATUS": "delivery_state",
}


async def prepare(dataset: Dataset, servers: SandboxServers) -> list[str]:
    """Create the legacy database on the server, and its SQLite copy in the folder, as given."""
    made: list[str] = []
    if servers.database_url is not None:
        written = await create_legacy_database(servers.database_url, dataset)
        made.append(f"{written} orders in the database {DATABASE}")
    if servers.files_dir is not None:
        path = servers.files_dir / SQLITE_FILE
        written = await asyncio.to_thread(write_legacy_sqlite, path, dataset)
        made.append(f"{written} orders in {path}")
    return made


def gateway_environment(http_url: str, servers: SandboxServers) -> dict[str, str]:
    """``SCV_ORDERS__URL`` (the reader role's, on the server; else the SQLite file's, with
    that file's names and formats); nothing when neither was made."""
    if servers.database_url is not None:
        return {"SCV_ORDERS__URL": reader_url(servers.database_url)}
    if servers.files_dir is not None:
        path = (servers.files_dir / SQLITE_FILE).resolve()
        section = {"URL": f"sqlite+aiosqlite:///{path}", **_SQLITE_SETTINGS}
        return {f"SCV_ORDERS__{key}": value for key, value in section.items()}
    return {}


#: Its entry in the sandbox-system registry (``sandbox/registry.py``).
SYSTEM = SandboxSystem(name="orders", gateway_environment=gateway_environment, prepare=prepare)
