"""``python -m bench.kpis``: what the integration KPIs cost, as figures (nothing asserted).

- counting an upstream call (``SourceCallTally.observe_call``, on every call's path): CPU
  per call, over a million calls;
- a flush of the counts (``SourceCallDayStore.add``): one statement per flush, whatever the
  traffic; and reading a year of every source's days back (``days_since``);
- the ticket backlog (``TicketBacklogStore``) with OPEN tickets open: ``integrationKpis``'
  read of the backlog now (an aggregate over the open tickets in PostgreSQL, no call to the
  support system) and of a year's trend, and one webhook's follow (a requester's tickets
  kept and the day's trend row rewritten: also an aggregate over the open tickets).

In a fresh embedded PostgreSQL; written to bench/results/kpis-<time>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.kpis.call_days import SourceCallTally
from app.store.backlog import TicketBacklogStore
from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from app.store.source_calls import SourceCallDayStore
from kernel.integration_kpis import SourceCallDay
from kernel.models import Source
from kernel.tenancy import TenantId

RESULTS = Path(__file__).parent / "results"
CODES = (None, None, None, "UPSTREAM_UNAVAILABLE", "UPSTREAM_CONTRACT")

_OPEN_TICKETS = """
insert into ticket_backlog (source, ticket_id, status, created_at)
select 'SUPPORT', 't' || n, (array['NEW', 'OPEN', 'WAITING_ON_CUSTOMER', 'ON_HOLD'])[n % 4 + 1],
       $2::timestamptz - (n % 900) * interval '1 hour'
  from generate_series(1, $1::int) as n
"""
_TREND = """
insert into ticket_backlog_daily (day, status, age_bucket, tickets)
select d::date, s, b, 100
  from generate_series($1::date - 364, $1::date, interval '1 day') as d,
       unnest(array['NEW', 'OPEN', 'WAITING_ON_CUSTOMER', 'ON_HOLD']) as s,
       unnest(array['UNDER_1D', 'D1_3', 'D3_7', 'OVER_7D']) as b
on conflict do nothing
"""


class NoWriter:
    async def add(self, batch: object) -> None:
        return None


def observe_cost(calls: int) -> float:
    """Microseconds of CPU per ``observe_call``."""
    tally = SourceCallTally(NoWriter(), tenant_now=lambda: TenantId("acme"))
    sources = list(Source)
    started = time.process_time()
    for n in range(calls):
        tally.observe_call(sources[n % len(sources)], 0.01, CODES[n % len(CODES)])
    return (time.process_time() - started) / calls * 1e6


async def timed(runs: int, call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Median and slowest of ``runs`` calls, in milliseconds (after one warm-up call)."""
    await call()
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000, max(seconds) * 1000


async def measure(open_tickets: int, runs: int) -> list[tuple[str, float, float]]:
    now = datetime.now(UTC)
    today = now.date()
    with tempfile.TemporaryDirectory(prefix="scv-kpis-") as tmp:
        store = await Store.connect(start_embedded_postgres(Path(tmp)), pool_size=2)
        try:
            await store.migrate()
            days = SourceCallDayStore(store.pool)
            year = {
                (today - timedelta(days=n), source, store.tenant): SourceCallDay(
                    source, calls=1000, errors=3
                )
                for n in range(365)
                for source in Source
            }
            await days.add(year)
            batch = {
                (today, source, store.tenant): SourceCallDay(source, calls=500, errors=2)
                for source in Source
            }
            backlog = TicketBacklogStore(store.pool, store.tenant)
            async with store.pool.acquire() as conn:
                await conn.execute(_OPEN_TICKETS, open_tickets, now)
                await conn.execute(_TREND, today)
                await conn.execute("analyze ticket_backlog; analyze ticket_backlog_daily")
            requester = [("t1", "OPEN", now - timedelta(days=2)), ("new-1", "NEW", now)]
            return [
                (
                    f"flush: one day of {len(Source)} sources (one upsert)",
                    *await timed(runs, lambda: days.add(batch)),
                ),
                (
                    f"read back a year of {len(Source)} sources' days",
                    *await timed(runs, lambda: days.days_since(today - timedelta(days=364))),
                ),
                (
                    f"backlog now, {open_tickets} open tickets",
                    *await timed(runs, lambda: backlog.backlog(now)),
                ),
                (
                    "backlog trend, a year",
                    *await timed(runs, lambda: backlog.daily(today - timedelta(days=364))),
                ),
                (
                    f"one webhook's follow, {open_tickets} open tickets",
                    *await timed(runs, lambda: backlog.follow("SUPPORT", requester, ["t2"], now)),
                ),
            ]
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kpis", description=__doc__)
    parser.add_argument("--open-tickets", type=int, default=100_000, help="open tickets (100000)")
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each (20)")
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls counted (1000000)")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    per_call = observe_cost(args.calls)
    rows = asyncio.run(measure(args.open_tickets, args.runs))
    lines = [
        f"# Integration KPIs, {started.isoformat(timespec='seconds')}",
        "",
        f"Counting an upstream call: {per_call:.2f} µs of CPU per call (over {args.calls}).",
        "",
        f"In PostgreSQL ({args.runs} runs each, after a warm-up):",
        "",
        "| what | median ms | slowest ms |",
        "|---|---|---|",
        *(f"| {name} | {median:.1f} | {slowest:.1f} |" for name, median, slowest in rows),
        "",
    ]
    table = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"kpis-{started.strftime('%Y%m%dT%H%M%SZ')}.md"
    path.write_text(table)
    print(table)
    print(f"wrote bench/results/{path.name}")


if __name__ == "__main__":
    main()
