"""``Query.customers`` over fake systems and an in-memory read model: the connection, its
arguments and roles, each node a whole Customer, and how its panels batch.

The store's SQL (filters, keyset order) is tested in tests/app/test_facts_store.py; here the
read model is a list, so that what is tested is the graph.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.access import Principal
from kernel.customer_facts import (
    CustomerFacts,
    CustomerFactsPage,
    CustomerFilter,
    CustomerOrder,
)
from kernel.identity import CustomerId
from kernel.models import BillingCustomer, BillingCustomerId, Source
from kernel.source_facts import SourceFactsRow
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.builders import billing_customer, crm_contact, support_user
from tests.fake_systems import FakeSystems
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeIvrAdapter, FakeSupportAdapter
from tests.resolvers.memory_store import MemoryStore

T0 = datetime(2025, 1, 1, tzinfo=UTC)
ANALYST = Principal(subject="analyst-1", role="analyst")
CUSTOMERS = 12


def facts_row(n: int) -> CustomerFacts:
    return CustomerFacts(
        customer_id=CustomerId(f"cust_{n:03d}"),
        display_name=f"Person {n}",
        created_at=T0 + timedelta(minutes=n),
        linked_sources=(Source.BILLING, Source.CRM, Source.SUPPORT),
        balance=Decimal(n),
        currency="GBP",
        delinquent=n % 2 == 0,
        subscription_status="ACTIVE",
        open_ticket_count=n % 4,
        last_ticket_at=None,
        last_contact_at=None,
        country="United Kingdom",
        billing_taken_at=T0,
        support_taken_at=T0,
        crm_taken_at=None,
    )


class ListFacts:
    """The read model as a list in creation order; cursors are ``pos:<index>``."""

    def __init__(self, rows: Sequence[CustomerFacts]) -> None:
        self.rows = list(rows)
        self.asked: list[tuple[CustomerFilter, CustomerOrder, int, str | None]] = []

    def _selected(self, customer_filter: CustomerFilter) -> list[CustomerFacts]:
        wanted = customer_filter.delinquent
        return [r for r in self.rows if wanted is None or r.delinquent is wanted]

    async def page_customers(
        self, customer_filter: CustomerFilter, order: CustomerOrder, first: int, after: str | None
    ) -> CustomerFactsPage:
        self.asked.append((customer_filter, order, first, after))
        start = 0
        if after is not None:
            prefix, _, number = after.partition(":")
            if prefix != "pos" or not number.isdigit():
                raise ValueError("not a cursor")
            start = int(number) + 1
        rows = self._selected(customer_filter)
        page = rows[start : start + first]
        return CustomerFactsPage(
            rows=page,
            cursors=[f"pos:{start + i}" for i in range(len(page))],
            has_next_page=start + first < len(rows),
            has_previous_page=start > 0,
        )

    async def count_customers_matching(self, customer_filter: CustomerFilter) -> int:
        return len(self._selected(customer_filter))

    async def stream_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> AsyncIterator[tuple[list[CustomerFacts], str]]:
        raise NotImplementedError
        yield  # pragma: no cover

    async def get_facts(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerFacts]:
        return {r.customer_id: r for r in self.rows if r.customer_id in ids}


class InFlight(FakeBillingAdapter):
    """Billing that records how many ``get_customer`` calls were under way at once."""

    def __init__(self, customers: Sequence[BillingCustomer]) -> None:
        super().__init__(customers)
        self.now = 0
        self.most = 0

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            # Hand the loop over: without a bound, every call would now be under way.
            await asyncio.sleep(0)
            return await super().get_customer(customer_id)
        finally:
            self.now -= 1


def many() -> tuple[FakeSystems, MemoryStore, ListFacts, InFlight]:
    store = MemoryStore()
    for n in range(CUSTOMERS):
        store.add(
            f"cust_{n:03d}",
            f"Person {n}",
            [(Source.CRM, f"c{n}"), (Source.BILLING, f"cus_{n}"), (Source.SUPPORT, str(9000 + n))],
        )
    billing = InFlight([billing_customer(f"cus_{n}", balance=n) for n in range(CUSTOMERS)])
    systems = FakeSystems(
        billing=billing,
        crm=FakeCrmAdapter([crm_contact(f"c{n}", "Person", str(n)) for n in range(CUSTOMERS)]),
        support=FakeSupportAdapter([support_user(str(9000 + n)) for n in range(CUSTOMERS)]),
        ivr=FakeIvrAdapter(),
    )
    return systems, store, ListFacts([facts_row(n) for n in range(CUSTOMERS)]), billing


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


async def run(
    schema: strawberry.Schema,
    query: str,
    *,
    principal: Principal = ANALYST,
    panel_concurrency: int = 10,
    world: tuple[FakeSystems, MemoryStore, ListFacts, InFlight] | None = None,
    **variables: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    systems, store, facts, _ = world or many()
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(
        principal,
        store,
        sources,
        default_region="GB",
        facts=facts,
        panel_concurrency=panel_concurrency,
    )
    result = await schema.execute(query, variable_values=variables, context_value=context)
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]


PAGE = """query($first: Int, $after: String, $filter: CustomerFilter) {
  customers(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id displayName facts { delinquent openTicketCount ageSeconds
                                                 subscriptionStatus takenAt { billing crm } } } }
  }
}"""


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e["extensions"]["code"] for e in errors]


async def test_a_page_is_a_connection_of_customers_with_their_facts(
    schema: strawberry.Schema,
) -> None:
    data, errors = await run(schema, PAGE, first=5)

    assert errors == []
    page = data["customers"]
    assert page["totalCount"] == CUSTOMERS
    assert [e["node"]["id"] for e in page["edges"]] == [f"cust_{n:03d}" for n in range(5)]
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": "pos:0",
        "endCursor": "pos:4",
    }
    first = page["edges"][0]["node"]["facts"]
    assert (first["delinquent"], first["openTicketCount"], first["subscriptionStatus"]) == (
        True,
        0,
        "ACTIVE",
    )
    assert first["takenAt"]["crm"] is None
    assert first["ageSeconds"] > 0


async def test_after_continues_from_the_cursor_and_the_filter_reaches_the_store(
    schema: strawberry.Schema,
) -> None:
    world = many()
    data, errors = await run(
        schema, PAGE, world=world, first=2, after="pos:1", filter={"delinquent": True}
    )

    assert errors == []
    assert [e["node"]["id"] for e in data["customers"]["edges"]] == ["cust_004", "cust_006"]
    assert data["customers"]["totalCount"] == CUSTOMERS // 2
    assert world[2].asked[0][0] == CustomerFilter(delinquent=True)


async def test_an_analyst_sees_the_nodes_personal_fields_masked(
    schema: strawberry.Schema,
) -> None:
    data, errors = await run(schema, PAGE, first=1)

    assert errors == []
    assert data["customers"]["edges"][0]["node"]["displayName"] != "Person 0"


@pytest.mark.parametrize("role", ["agent", "ivr"])
async def test_agents_and_the_ivr_may_not_list_customers(
    schema: strawberry.Schema, role: str
) -> None:
    world = many()
    _, errors = await run(
        schema, PAGE, world=world, principal=Principal(subject="x", role=role), first=5
    )

    assert codes(errors) == ["FORBIDDEN"]
    assert world[2].asked == []


async def test_a_supervisor_may_list_customers(schema: strawberry.Schema) -> None:
    data, errors = await run(
        schema, PAGE, principal=Principal(subject="s", role="supervisor"), first=3
    )

    assert errors == []
    assert len(data["customers"]["edges"]) == 3


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_first_outside_1_to_100_is_bad_input(schema: strawberry.Schema, first: int) -> None:
    world = many()
    _, errors = await run(schema, PAGE, world=world, first=first)

    assert codes(errors) == ["BAD_USER_INPUT"]
    assert world[2].asked == []


async def test_a_bad_cursor_is_bad_input(schema: strawberry.Schema) -> None:
    _, errors = await run(schema, PAGE, first=5, after="garbage")

    assert codes(errors) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "bad_filter",
    [
        {"minOpenTickets": -1},
        {"linkedTo": ["BILLING"], "missingFrom": ["BILLING"]},
        {"lastContactBefore": "2025-01-01T00:00:00"},
    ],
)
async def test_a_filter_that_cannot_be_meant_is_bad_input(
    schema: strawberry.Schema, bad_filter: dict[str, Any]
) -> None:
    world = many()
    _, errors = await run(schema, PAGE, world=world, first=5, filter=bad_filter)

    assert codes(errors) == ["BAD_USER_INPUT"]
    assert world[2].asked == []


PANELS = """query($first: Int) { customers(first: $first) { edges { node {
  profile { name } billing { balance { amount } } support { openTicketCount }
} } } }"""


async def test_a_pages_panels_cost_one_crm_batch_and_one_call_per_record_elsewhere(
    schema: strawberry.Schema,
) -> None:
    world = many()
    systems, store, _, _ = world

    data, errors = await run(schema, PANELS, world=world, first=CUSTOMERS)

    assert errors == []
    assert len(data["customers"]["edges"]) == CUSTOMERS
    assert dict(systems.crm.calls) == {"get_contacts": 1}
    assert dict(systems.billing.calls) == {"get_customer": CUSTOMERS}
    assert dict(systems.support.calls) == {"list_requested_tickets": CUSTOMERS}
    assert store.calls["get_customers"] == 1


async def test_calls_to_a_system_without_a_batch_read_are_bounded_per_request(
    schema: strawberry.Schema,
) -> None:
    world = many()

    _, errors = await run(schema, PANELS, world=world, first=CUSTOMERS, panel_concurrency=3)

    assert errors == []
    assert world[3].most == 3


ORDERS_PAGE = """query($filter: CustomerFilter) {
  customers(first: 2, filter: $filter) {
    edges { node { facts { orderCount openOrderCount lastOrderAt takenAt { orders } } } }
  }
}"""


async def test_the_orders_entrys_facts_and_filter_are_served_as_before(
    schema: strawberry.Schema,
) -> None:
    world = many()
    facts = world[2]
    facts.rows[0] = dataclasses.replace(
        facts.rows[0],
        source_facts={
            Source.ORDERS: SourceFactsRow(
                {"order_count": 2, "open_order_count": 1, "last_order_at": T0}, T0
            )
        },
    )

    data, errors = await run(
        schema, ORDERS_PAGE, world=world, filter={"hasOpenOrders": True, "delinquent": True}
    )

    assert errors == []
    # The orders database's filter reaches the store as its registry entry's flag.
    assert facts.asked[-1][0].source_flags == frozenset({("ORDERS.has_open_orders", True)})
    first, second = (edge["node"]["facts"] for edge in data["customers"]["edges"])
    assert first == {
        "orderCount": 2,
        "openOrderCount": 1,
        "lastOrderAt": T0.isoformat(),
        "takenAt": {"orders": T0.isoformat()},
    }
    # Not known to the orders database: null, not zero.
    assert second == {
        "orderCount": None,
        "openOrderCount": None,
        "lastOrderAt": None,
        "takenAt": {"orders": None},
    }
