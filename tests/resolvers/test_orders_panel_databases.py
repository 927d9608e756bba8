"""The same orders panel served from PostgreSQL and from SQLite, by settings alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.connection import Connection
from adapters.orders.client import open_orders_adapter
from adapters.orders.settings import OrdersSettings
from app.http.errors import PresentErrors
from kernel.access import Principal
from kernel.models import Source
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.adapters.orders.legacy_databases import ADA_REF, postgres_orders, sqlite_orders
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import MemoryStore

PANEL = """{ customer(id: "ada") { orders {
  openOrderCount
  orders { number status sourceStatus placedAt total { amount currency }
           lines { sku description quantity } shipment { carrier trackingNumber status } }
  meta { source sourceRecordId }
} } }"""


async def panel(settings: OrdersSettings) -> dict[str, Any]:
    store = MemoryStore()
    store.add("ada", "Ada Lovelace", [(Source.ORDERS, ADA_REF)])
    schema = build_schema(extensions=[PresentErrors])
    async with open_orders_adapter(settings, Connection()) as orders:
        adapters = {**named_customers().by_source, Source.ORDERS: orders}
        context = new_context(
            Principal(subject="supervisor-1", role="supervisor"),
            store,
            Sources.from_adapters(adapters),
            "GB",
            purpose="tests",
        )
        result = await schema.execute(PANEL, context_value=context)
    assert result.errors is None
    assert result.data is not None
    found: dict[str, Any] = result.data["customer"]["orders"]
    return found


async def test_postgres_and_sqlite_serve_the_same_panel(database_url: str, tmp_path: Path) -> None:
    from_postgres = await panel(await postgres_orders(database_url))
    from_sqlite = await panel(sqlite_orders(tmp_path / "legacy.sqlite"))

    assert from_postgres == from_sqlite
    assert from_postgres["openOrderCount"] == 2
    assert [o["number"] for o in from_postgres["orders"]] == ["SO100102", "SO100101"]
