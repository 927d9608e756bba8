"""The orders database's facts in the read model: counts, the last order, the open filter."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.orders.port import OrderStatus
from app.analytics.refresh import FactsUpdater, refresh_facts
from app.analytics.settings import CustomersSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from kernel.customer_facts import CustomerFacts, CustomerFilter, CustomerOrder
from kernel.models import Source
from tests.fake_orders import order
from tests.fake_systems import FakeSystems, named_customers

NOW = datetime(2024, 6, 1, tzinfo=UTC)
ADA_REF = "020 7946 0018"
ORPHAN_REF = "01632 960000"
#: The orders database's filter, as its registry entry declares it (adapters/orders/facts.py).
OPEN_ORDERS = "ORDERS.has_open_orders"


def systems() -> FakeSystems:
    systems = named_customers()
    systems.orders.orders.update(
        {
            ADA_REF: [
                order("SO1", OrderStatus.SHIPPED, 2),
                order("SO2", OrderStatus.BACKORDERED, 20),
            ],
            "cus_barbara": [order("SO7", OrderStatus.CANCELLED, 11)],
            ORPHAN_REF: [order("SO9", OrderStatus.PLACED, 5)],
        }
    )
    return systems


async def refreshed(store: Store, systems: FakeSystems) -> None:
    await sync_identities(store, systems.by_source, IdentitySettings(), full=True)
    await refresh_facts(
        FactsWriter(store.pool, store.tenant),
        systems.billing,
        systems.crm,
        systems.support,
        systems.ivr,
        CustomersSettings(),
        "GB",
        clock=lambda: NOW,
        adapters=systems.by_source,
    )


async def facts_of(store: Store, source: Source, external_id: str) -> CustomerFacts:
    customer_id = await store.find_by_source_id(source, external_id)
    assert customer_id is not None, external_id
    return (await PostgresFactsStore(store.pool).get_facts([customer_id]))[customer_id]


async def test_order_facts_are_counted_per_customer(store: Store) -> None:
    await refreshed(store, systems())

    ada = await facts_of(store, Source.CRM, "1001")
    barbara = await facts_of(store, Source.CRM, "1007")
    grace = await facts_of(store, Source.CRM, "1002")
    ada_orders = ada.source_facts[Source.ORDERS]
    assert ada_orders.values == {
        "order_count": 2,
        "open_order_count": 2,
        "last_order_at": datetime(2024, 5, 20, tzinfo=UTC),
    }
    assert ada_orders.taken_at == NOW
    barbara_orders = barbara.source_facts[Source.ORDERS].values
    assert (barbara_orders["order_count"], barbara_orders["open_order_count"]) == (1, 0)
    # Not known to the orders database: no facts, not zero.
    assert Source.ORDERS not in grace.source_facts


async def test_analysts_filter_customers_with_open_orders(store: Store) -> None:
    await refreshed(store, systems())
    facts = PostgresFactsStore(store.pool)

    page = await facts.page_customers(
        CustomerFilter(source_flags=frozenset({(OPEN_ORDERS, True)})), CustomerOrder(), 50, None
    )
    with_open = {row.customer_id for row in page.rows}

    ada = await store.find_by_source_id(Source.CRM, "1001")
    orphan = await store.find_by_source_id(Source.ORDERS, ORPHAN_REF)
    assert with_open == {ada, orphan}
    none_open = await facts.page_customers(
        CustomerFilter(source_flags=frozenset({(OPEN_ORDERS, False)})), CustomerOrder(), 50, None
    )
    assert ada not in {row.customer_id for row in none_open.rows}
    assert await store.find_by_source_id(Source.CRM, "1007") in {
        row.customer_id for row in none_open.rows
    }


async def test_one_customers_order_facts_are_reread_when_their_record_changed(
    store: Store,
) -> None:
    fakes = systems()
    await refreshed(store, fakes)
    fakes.orders.orders["cus_barbara"].append(order("SO8", OrderStatus.PLACED, 28))
    writer = FactsWriter(store.pool, store.tenant)
    updater = FactsUpdater(
        store, writer, fakes.billing, fakes.crm, fakes.support, adapters=fakes.by_source
    )

    assert await updater.refresh_record(Source.ORDERS, "cus_barbara")

    barbara = await facts_of(store, Source.ORDERS, "cus_barbara")
    orders = barbara.source_facts[Source.ORDERS].values
    assert (orders["order_count"], orders["open_order_count"]) == (2, 1)
    assert barbara.customer_id == await store.find_by_source_id(Source.CRM, "1007")
