"""Migration 018 carries the read model's order columns (011) over as the orders source's
facts and flag, and queued export jobs' ``has_open_orders`` over as its flag."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.store.sync.values import NewCustomer, NewLink, PageWrite
from kernel.customer_facts import CustomerFilter, CustomerOrder
from kernel.identity import CustomerId
from kernel.models import Source
from tests.conftest import scratch_database

MIGRATIONS = Path(__file__).resolve().parents[3] / "app" / "store" / "migrations"
AT = datetime(2024, 5, 20, tzinfo=UTC)
OPEN_ORDERS = "ORDERS.has_open_orders"

_OLD_FACTS = """
update customer_facts
   set order_count = $2, open_order_count = $3, last_order_at = $4, orders_taken_at = $4
 where customer_id = $1
"""
_OLD_JOB = """
insert into export_jobs (id, owner, owner_role, filter, fields, format)
values ($1, 'analyst-1', 'analyst', $2::jsonb, '{customerId}', 'NDJSON')
"""


async def test_the_order_columns_and_export_filters_become_the_sources_facts(
    database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in MIGRATIONS.glob("*.sql"):
        if path.name < "018":
            shutil.copy(path, before)
    async with scratch_database(database_url, "test_018") as url:
        store = await Store.connect(url, pool_size=2)
        try:
            await store.migrate(before)
            customers = [CustomerId("cust_open"), CustomerId("cust_done"), CustomerId("cust_none")]
            async with store.sync_session() as session:
                await session.write_page(
                    PageWrite(
                        source=Source.CRM,
                        customers=[NewCustomer(c, c, 0, f"CRM:{c}", AT) for c in customers],
                        links=[NewLink(c, c, "anchor", AT) for c in customers],
                        keys_added=[],
                    )
                )
            await FactsWriter(store.pool, store.tenant).ensure_customers(customers)
            async with store.pool.acquire() as conn:
                await conn.execute(_OLD_FACTS, "cust_open", 2, 1, AT)
                await conn.execute(_OLD_FACTS, "cust_done", 1, 0, AT)
                await conn.execute(_OLD_JOB, "job_open", json.dumps({"has_open_orders": True}))
                await conn.execute(_OLD_JOB, "job_any", json.dumps({"has_open_orders": None}))

            # 018 first; later migrations (019 on) follow it.
            assert (await store.migrate())[0] == "018_source_facts.sql"

            facts = PostgresFactsStore(store.pool)
            rows = await facts.get_facts(customers)
            opened = rows[CustomerId("cust_open")].source_facts[Source.ORDERS]
            assert opened.values == {
                "order_count": 2,
                "open_order_count": 1,
                "last_order_at": AT,
            }
            assert opened.taken_at == AT
            assert (
                rows[CustomerId("cust_done")].source_facts[Source.ORDERS].values["open_order_count"]
                == 0
            )
            assert Source.ORDERS not in rows[CustomerId("cust_none")].source_facts
            page = await facts.page_customers(
                CustomerFilter(source_flags=frozenset({(OPEN_ORDERS, True)})),
                CustomerOrder(),
                10,
                None,
            )
            assert [row.customer_id for row in page.rows] == ["cust_open"]
            async with store.pool.acquire() as conn:
                filters = {
                    row["id"]: json.loads(row["filter"])
                    for row in await conn.fetch("select id, filter from export_jobs")
                }
            assert filters == {
                "job_open": {"source_flags": {OPEN_ORDERS: True}},
                "job_any": {"source_flags": {}},
            }
        finally:
            await store.close()
