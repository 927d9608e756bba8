"""``python -m bench.facts_query``: the analysts' read model answering over 100,000 customers.

The issue's example, "delinquent customers with at least 3 open tickets", as
``Query.customers`` asks it of ``customer_facts`` (``app.store.facts.PostgresFactsStore``):
the first page, the next page from its cursor, the total count, and a page sorted by open
tickets, each timed over several runs in a fresh embedded PostgreSQL filled with generated
rows (a third delinquent, 0 to 9 open tickets); and "customers with open orders" (the
orders database's facts: a fifth of the customers have some), its first page and its count.
No system is called: that is the point of the read model. Figures are printed and written
to bench/results/facts-query-<time>.md; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from app.store.facts import PostgresFactsStore
from kernel.customer_facts import CustomerFilter, CustomerOrder, CustomerOrderField

RESULTS = Path(__file__).parent / "results"

_CUSTOMERS = """
insert into customers (id, display_name, display_rank, display_ref, created_at)
select 'c' || n, 'Customer ' || n, 0, 'c' || n,
       timestamptz '2025-01-01' + n * interval '1 minute'
  from generate_series(1, $1::int) as n
"""
_FACTS = """
insert into customer_facts (customer_id, created_at, delinquent, open_ticket_count,
                            linked_sources)
select id, created_at, (substr(id, 2)::int % 3 = 0), substr(id, 2)::int % 10,
       '{BILLING,CRM,SUPPORT}'
  from customers
"""
# A fifth of the customers have orders under way; the orders database knows half of them.
# Its facts as its registry entry declares them (adapters/orders/facts.py), kept as the
# store keeps a source's own facts (app/store/source_facts.py, migration 018).
_ORDER_FACTS = """
update customer_facts
   set source_facts = jsonb_build_object('ORDERS', jsonb_build_object(
           'values', jsonb_build_object(
               'order_count', substr(customer_id, 2)::int % 4,
               'open_order_count', (substr(customer_id, 2)::int % 5 = 0)::int,
               'last_order_at', created_at),
           'taken_at', created_at)),
       fact_flags = case when substr(customer_id, 2)::int % 5 = 0
                         then '{ORDERS.has_open_orders}'::text[] else '{}' end
 where substr(customer_id, 2)::int % 2 = 0 or substr(customer_id, 2)::int % 5 = 0
"""

_OPEN_ORDERS = "ORDERS.has_open_orders"


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Median and slowest of ``runs`` calls, in milliseconds (after one warm-up call)."""
    await call()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, max(seconds) * 1000


async def measure(customers: int, runs: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory(prefix="scv-facts-query-") as tmp:
        store = await Store.connect(start_embedded_postgres(Path(tmp)), pool_size=2)
        try:
            await store.migrate()
            async with store.pool.acquire() as conn:
                await conn.execute(_CUSTOMERS, customers)
                await conn.execute(_FACTS)
                await conn.execute(_ORDER_FACTS)
                await conn.execute("analyze customer_facts")
            facts = PostgresFactsStore(store.pool)
            selection = CustomerFilter(delinquent=True, min_open_tickets=3)
            order = CustomerOrder()
            first = await facts.page_customers(selection, order, 50, None)
            after = first.cursors[-1]
            by_tickets = CustomerOrder(CustomerOrderField.OPEN_TICKETS, descending=True)
            open_orders = CustomerFilter(source_flags=frozenset({(_OPEN_ORDERS, True)}))
            no_orders = CustomerFilter(source_flags=frozenset({(_OPEN_ORDERS, False)}))
            return [
                (
                    "first page of 50",
                    *await timed(runs, lambda: facts.page_customers(selection, order, 50, None)),
                ),
                (
                    "next page of 50 (from the cursor)",
                    *await timed(runs, lambda: facts.page_customers(selection, order, 50, after)),
                ),
                (
                    "totalCount",
                    *await timed(runs, lambda: facts.count_customers_matching(selection)),
                ),
                (
                    "first page of 50, most open tickets first",
                    *await timed(
                        runs, lambda: facts.page_customers(selection, by_tickets, 50, None)
                    ),
                ),
                (
                    "first page of 50 with open orders",
                    *await timed(runs, lambda: facts.page_customers(open_orders, order, 50, None)),
                ),
                (
                    "totalCount with open orders",
                    *await timed(runs, lambda: facts.count_customers_matching(open_orders)),
                ),
                (
                    "first page of 50 without open orders",
                    *await timed(runs, lambda: facts.page_customers(no_orders, order, 50, None)),
                ),
            ]
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.facts_query", description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000, help="rows (100000)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each query (20)")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    print(f"filling customer_facts with {args.customers} customers", flush=True)
    rows = asyncio.run(measure(args.customers, args.runs))
    lines = [
        f"# Read model queries, {started.isoformat(timespec='seconds')}",
        "",
        f'"Delinquent with at least 3 open tickets" over {args.customers} customers '
        f"({args.runs} runs each, after a warm-up; no upstream call is made).",
        "",
        "| query | median ms | slowest ms |",
        "|---|---|---|",
        *(f"| {name} | {median:.1f} | {slowest:.1f} |" for name, median, slowest in rows),
        "",
    ]
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"facts-query-{started.strftime('%Y%m%dT%H%M%SZ')}.md"
    path.write_text(table)
    print(table)
    print(f"wrote bench/results/{path.name}")


if __name__ == "__main__":
    main()
