"""``python -m bench.fair_share``: agents and analysts, each alone and beside the other.

Fair share (``app.resilience``) gives analysts whatever each source's capacity agents leave:
an adaptive limit on their upstream calls, driven by agents' latency and the source's, with
a queue that refuses only by deadline. This measures it as issue 25 asks, in four rows:
agents alone (the desktop's whole view of a customer at a fixed arrival rate), analysts
alone (each sending a ``customers(first: 50)`` page with profile, billing and support
panels as soon as the last came back), then both at once, giving the agents' row and the
analysts' row of that run; each alone run is taken in two halves, before and after the
run of both, so that a shared machine's drift in load weighs on alone and beside alike. It
reports requests, served, refused, p50, p95, p99, the
gateway's cores busy, and two ratios: agents' p99 beside analysts over alone (target at
most 1.15) and analysts' pages served beside agents over alone (target at least 0.70).
Figures are reported (bench/results/fair-share-<time>.json and .md), never asserted by the
tests.

No run meets another's customers: the analysts' three runs page through different pages, and
the agents' customers are on none of them, so the response cache cannot make a later run
look better than an earlier one. Every agent request is a different customer (cold).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.fair_share_loads import Cores, agents, analysts, both, fair_share_state
from bench.fair_share_report import markdown, mean, merged, summary, verdicts
from bench.stack import Stack, StackConfig, free_port, running_stack, wait_for

RESULTS = Path(__file__).parent / "results"

PAGE_CURSORS = """query Cursors($after: String) {
  customers(first: 50, after: $after) {
    edges { node { id } }
    pageInfo { endCursor hasNextPage }
  }
}"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.fair_share", description=__doc__)
    parser.add_argument("--customers", type=int, default=3000, help="sandbox customers (3000)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per upstream call (20)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="gateway workers (one per core)"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="agent views per second (20)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per run (20)")
    parser.add_argument(
        "--analysts", type=int, default=2, help="analysts paging at once, page after page (2)"
    )
    parser.add_argument(
        "--analyst-pages",
        type=int,
        default=8,
        help="distinct pages analysts cycle through in each of their three runs (8)",
    )
    parser.add_argument(
        "--analyst-slots",
        type=int,
        help="each source's analysts' bulkhead slots per gateway worker (default: the gateway's)",
    )
    parser.add_argument(
        "--separate-analysts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "serve analysts from their own lower-priority process on SCV_ANALYST_PORT, as "
            "recommended (default); --no-separate-analysts serves everyone from the same workers"
        ),
    )
    parser.add_argument(
        "--budget",
        action=argparse.BooleanOptionalAction,
        default=True,
        help=(
            "charge queries to each principal's cost budget, as a deployment does (default); "
            "--no-budget lets analysts page as fast as the gateway answers"
        ),
    )
    return parser.parse_args(argv)


def gateway_env(args: argparse.Namespace) -> dict[str, str]:
    """The gateway's settings for this run: the cost budget, and the analysts' lane when
    one is given (bench.stack turns the budget off for the other benchmarks)."""
    env = {"SCV_LIMITS__BUDGET_ENABLED": "true" if args.budget else "false"}
    if args.analyst_port is not None:
        env["SCV_ANALYST_PORT"] = str(args.analyst_port)
    if args.analyst_slots is not None:
        env.update(
            {
                f"SCV_{source}__BULKHEAD__ANALYST_MAX_CONCURRENT": str(args.analyst_slots)
                for source in ("BILLING", "CRM", "SUPPORT")
            }
        )
    return env


def analysts_url(stack: Stack, args: argparse.Namespace) -> str:
    """Where analysts send their queries: their own port, or the gateway's."""
    if args.analyst_port is None:
        return stack.gateway_url
    return f"http://127.0.0.1:{args.analyst_port}"


def page_cursors(stack: Stack, pages: int, url: str) -> tuple[list[str | None], set[str]]:
    """The ``after`` of each of the first ``pages`` pages, and the customers on them."""
    headers = {"Authorization": f"Bearer {stack.token('analyst', 'bench-analyst')}"}
    afters: list[str | None] = [None]
    ids: set[str] = set()
    with httpx.Client(timeout=30.0, headers=headers) as client:
        while len(afters) <= pages:
            answer = client.post(
                f"{url}/graphql",
                json={"query": PAGE_CURSORS, "variables": {"after": afters[-1]}},
            ).json()
            if answer.get("errors"):
                raise RuntimeError(f"customers page refused: {answer['errors'][0]}")
            connection = answer["data"]["customers"]
            ids.update(edge["node"]["id"] for edge in connection["edges"])
            if not connection["pageInfo"]["hasNextPage"]:
                break
            afters.append(connection["pageInfo"]["endCursor"])
    return afters[:pages], ids


async def _agent_emails(database_url: str, exclude: set[str]) -> list[str]:
    """CRM emails of customers linked to all three systems, none of them on analysts' pages."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            select k.customer_id, min(k.value) as email
              from lookup_keys k
             where k.kind = 'email' and k.source = 'CRM'
               and k.customer_id in (
                     select customer_id from identity_links
                      group by customer_id
                     having count(distinct source)
                            filter (where source in ('BILLING', 'CRM', 'SUPPORT')) = 3)
               and (select count(distinct o.customer_id) from lookup_keys o
                     where o.kind = 'email' and o.value = k.value) = 1
             group by k.customer_id
             order by k.customer_id
            """
        )
    finally:
        await conn.close()
    return [row["email"] for row in rows if row["customer_id"] not in exclude]


async def _facts_rows(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval("select count(*) from customer_facts")
    finally:
        await conn.close()
    return count


async def _fill_facts(stack: Stack) -> None:
    """The read model from the sandbox, for a ``scv sync`` that does not fill it itself."""
    from contextlib import AsyncExitStack

    from pydantic import SecretStr

    from app.analytics.refresh import refresh_facts_from
    from app.settings import Settings
    from app.store.customers import Store
    from app.store.facts_writer import FactsWriter
    from app.wiring.sources import build_sources

    base = Settings(database_url=SecretStr(stack.database_url), data_dir=stack.config.data_dir)
    settings = base.model_copy(
        update={
            name: getattr(base, name).model_copy(update={"base_url": f"{stack.sandbox_url}/{name}"})
            for name in ("billing", "crm", "support", "ivr")
        }
    )
    async with AsyncExitStack() as resources:
        store = await Store.connect(stack.database_url, pool_size=2)
        resources.push_async_callback(store.close)
        sources = await build_sources(settings, resources)
        await refresh_facts_from(
            FactsWriter(store.pool, store.tenant),
            sources,
            settings.customers,
            settings.identity.default_region,
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.analyst_port = free_port() if args.separate_analysts else None
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {
            "customers": args.customers,
            "latency_ms": args.latency_ms,
            "workers": args.workers,
            "rate": args.rate,
            "duration": args.duration,
            "analysts": args.analysts,
            "analyst_slots": args.analyst_slots,
            "analyst_pages": args.analyst_pages,
            "budget": args.budget,
            "separate_analysts": args.separate_analysts,
        },
    }
    with tempfile.TemporaryDirectory(prefix="scv-fair-share-") as tmp:
        config = StackConfig(
            Path(tmp), args.customers, args.latency_ms, args.workers, gateway_env=gateway_env(args)
        )
        with running_stack(config) as stack:
            if asyncio.run(_facts_rows(stack.database_url)) == 0:
                print("filling the customer read model", flush=True)
                asyncio.run(_fill_facts(stack))
            url = analysts_url(stack, args)
            # The analysts' processes start on their own, after the stack.
            wait_for(f"{url}/readyz", None, "the analysts' processes")
            # Three sets of pages: alone before, beside agents, alone after.
            afters, analysts_customers = page_cursors(stack, 3 * args.analyst_pages, url)
            emails = asyncio.run(_agent_emails(stack.database_url, analysts_customers))
            needed = 2 * int(args.rate * args.duration)
            if len(emails) < needed:
                raise RuntimeError(
                    f"{len(emails)} agent customers for {needed} requests: add --customers"
                )
            with httpx.Client(timeout=10.0) as client:
                stack.reset_upstream_stats(client)
                # Alone runs in two halves, one before and one after the run of both, so that
                # the shared machine's drift weighs on alone and beside alike.
                alone_agents: list[dict[str, Any]] = []
                alone_analysts: list[dict[str, Any]] = []
                alone_cores: list[tuple[float, float]] = []
                analysts_cores: list[tuple[float, float]] = []
                agents_half = int(args.rate * args.duration / 2)
                both_count = int(args.rate * args.duration)
                agents_sets = (
                    emails[:agents_half],
                    emails[agents_half + both_count : 2 * agents_half + both_count],
                )
                pages = args.analyst_pages
                for half in (0, 1):
                    if half == 1:
                        both_emails = emails[agents_half : agents_half + both_count]
                        both_pages = afters[pages : 2 * pages]
                        both(stack, client, args, url, result, both_emails, both_pages)
                    print(f"agents alone, half {half + 1}", flush=True)
                    cores = Cores(stack)
                    alone_agents.append(agents(stack, agents_sets[half], args, args.duration / 2))
                    alone_cores.append(cores.measured())
                    print(f"{args.analysts} analysts alone, half {half + 1}", flush=True)
                    cores = Cores(stack)
                    half_pages = afters[(2 * half) * pages : (2 * half + 1) * pages]
                    alone_analysts.append(
                        analysts(stack, half_pages, args, url, (args.duration + 4.0) / 2)
                    )
                    analysts_cores.append(cores.measured())
                result["agents_alone"] = summary(merged(alone_agents), mean(alone_cores))
                result["analysts_alone"] = summary(merged(alone_analysts), mean(analysts_cores))
                result["fair_share_after_analysts_alone"] = fair_share_state(client, url)
                result["upstream_calls"] = stack.upstream_calls(client)
                result["agent_customers"] = len(emails)
    result["load_average"] = round(os.getloadavg()[0], 2)
    result["verdicts"] = verdicts(result, os.cpu_count() or 1)
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"fair-share-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / f"fair-share-{stamp}.md").write_text(table)
    print()
    print(table)
    print(f"wrote bench/results/fair-share-{stamp}.json and .md")


if __name__ == "__main__":
    main()
