"""The orders panel over a fake orders database: its fields, its absence, its failure."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from adapters.orders.port import OrderStatus
from app.http.errors import PresentErrors
from kernel.access import Principal
from kernel.errors import UpstreamTimeout
from kernel.identity import CustomerId
from kernel.models import Source
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_orders import order
from tests.fake_systems import FakeSystems, named_customers
from tests.resolvers.memory_store import MemoryStore, named_store

READER = Principal(subject="supervisor-1", role="supervisor")
ADA_REF = "020 7946 0018"

QUERY = """query($id: ID!) { customer(id: $id) {
  displayName
  support { openTicketCount }
  orders {
    openOrderCount
    orders(first: 5) { number status sourceStatus placedAt total { amount currency } }
    meta { source sourceRecordId cache }
  }
} }"""


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


@pytest.fixture
def systems() -> FakeSystems:
    systems = named_customers()
    systems.orders.orders[ADA_REF] = [
        order("SO1", OrderStatus.SHIPPED, day=2),
        order("SO2", OrderStatus.BACKORDERED, day=20),
        order("SO0", OrderStatus.DELIVERED, day=1),
    ]
    return systems


@pytest.fixture
def store() -> MemoryStore:
    store = named_store()
    ada = store.customers[CustomerId("ada")]
    store.add(
        "ada",
        "Ada Lovelace",
        [*((link.source, link.external_id) for link in ada.links), (Source.ORDERS, ADA_REF)],
    )
    return store


async def run(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore, customer: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    context = new_context(
        READER,
        store,
        Sources.from_adapters(systems.by_source),
        default_region="GB",
        purpose="orders panel tests",
    )
    result = await schema.execute(QUERY, variable_values={"id": customer}, context_value=context)
    return result.data or {}, [e.formatted for e in result.errors or []]


async def test_the_panel_lists_orders_newest_first_and_counts_the_open_ones(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, "ada")

    assert errors == []
    panel = data["customer"]["orders"]
    assert [(o["number"], o["status"]) for o in panel["orders"]] == [
        ("SO2", "BACKORDERED"),
        ("SO1", "SHIPPED"),
        ("SO0", "DELIVERED"),
    ]
    assert panel["openOrderCount"] == 2
    assert panel["orders"][0]["total"] == {"amount": "10.00", "currency": "GBP"}
    assert panel["meta"] == {"source": "ORDERS", "sourceRecordId": ADA_REF, "cache": "MISS"}


async def test_a_customer_the_orders_database_does_not_know_has_no_panel(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, "grace")

    assert errors == []
    assert data["customer"]["orders"] is None
    assert systems.orders.calls == []


async def test_a_failing_orders_database_costs_only_its_panel(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    systems.orders.fail = UpstreamTimeout(Source.ORDERS, "the statement timed out")

    data, errors = await run(schema, systems, store, "ada")

    assert data["customer"]["orders"] is None
    assert data["customer"]["support"]["openTicketCount"] == 2
    assert [(e["path"], e["extensions"]["source"]) for e in errors] == [
        (["customer", "orders"], "ORDERS")
    ]


async def test_first_is_bounded(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = QUERY.replace("orders(first: 5)", "orders(first: 0)")
    context = new_context(
        READER, store, Sources.from_adapters(systems.by_source), "GB", purpose="tests"
    )
    result = await schema.execute(query, variable_values={"id": "ada"}, context_value=context)

    assert result.errors
    assert "first must be between 1 and 100" in str(result.errors[0])
