"""``python -m bench.fair_share``: agents' whole-customer p99, alone and beside analysts' pages.

Fair share (``app.resilience.fair_share``) gives analysts a lane of each source's bulkhead of their
own,
so that analysts paging through customers with their panels cannot take the slots an agent's
call needs. This measures it as the issue asks: the agent desktop's whole view of a customer
at a fixed arrival rate, first alone, then while analysts send ``customers(first: 50)``
pages with profile, billing and support panels; both p99s, and whether they are within 25%
of each other. Figures are reported (bench/results/fair-share-<time>.json and .md), never
asserted by the tests.

Agents and analysts never meet the same customer: the analysts' pages are fetched first and
the agents' customers are taken from the rest, so the response cache cannot make the
loaded run look better than it is. Every agent request is a different customer (cold).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.__main__ import drive
from bench.report import percentile
from bench.scenarios import whole_view_bodies
from bench.stack import Stack, StackConfig, free_port, running_stack, wait_for

RESULTS = Path(__file__).parent / "results"
#: The issue's bound: agent p99 beside analysts within this factor of agent p99 alone.
WITHIN = 1.25

#: Principals the load is spread over, each with its own cost budget, as in a contact centre.
AGENTS = 50

#: An analyst's page: 50 customers with a panel from each system (the CRM's batch read,
#: billing per customer with bounded concurrency, support's show_many).
ANALYST_PAGE = """query AnalystPage($after: String) {
  customers(first: 50, after: $after) {
    edges { node {
      id displayName
      profile { name email address { country } }
      billing { balance { amount currency } delinquent subscriptions { status } }
      support { openTicketCount }
    } }
    pageInfo { endCursor hasNextPage }
  }
}"""
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
        "--analyst-pages", type=int, default=20, help="distinct pages analysts cycle through (20)"
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
            FactsWriter(store.pool), sources, settings.customers, settings.identity.default_region
        )


def busy_cores(stack: Stack, cpu_before: float, wall_before: float) -> float:
    """The gateway's CPU seconds per second since then: how many cores it kept busy."""
    seconds = time.monotonic() - wall_before
    return round((stack.gateway_cpu_seconds() - cpu_before) / seconds, 2) if seconds else 0.0


def summary(load: dict[str, Any]) -> dict[str, Any]:
    latencies = sorted(load["latencies_ms"])
    return {
        "requests": load["sent"],
        "ok": load["ok"],
        "partial": load["partial"],
        "failed": load["failed"],
        "error_samples": load["error_samples"],
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
    }


def agents(stack: Stack, emails: list[str], args: argparse.Namespace) -> dict[str, Any]:
    count = int(args.rate * args.duration)
    if len(emails) < count:
        raise RuntimeError(f"{len(emails)} agent customers for {count} requests: add --customers")
    return drive(
        stack,
        {
            "mode": "rate",
            "rate": args.rate,
            "duration": args.duration,
            "bodies": whole_view_bodies(emails[:count]),
            "tokens": [stack.token("agent", f"bench-agent-{n}") for n in range(AGENTS)],
        },
    )


def analysts(
    stack: Stack, afters: list[str | None], args: argparse.Namespace, url: str
) -> dict[str, Any]:
    bodies = [
        {"query": ANALYST_PAGE, "variables": {"after": after}, "operationName": "AnalystPage"}
        for after in afters
    ]
    # Each analyst sends a page when the last has come back; longer than the agents' run on
    # both sides, so that every agent request meets them.
    return drive(
        stack,
        {
            "url": f"{url}/graphql",
            "mode": "concurrency",
            "concurrency": args.analysts,
            "requests": 1_000_000,
            "duration": args.duration + 4.0,
            "bodies": bodies,
            "tokens": [stack.token("analyst", f"bench-analyst-{n}") for n in range(args.analysts)],
        },
    )


def markdown(result: dict[str, Any]) -> str:
    alone, beside, pages = (
        result["agents_alone"],
        result["agents_beside_analysts"],
        result["analysts"],
    )
    config = result["config"]
    lines = [
        f"# Fair share, {result['started_at']}",
        "",
        f"{config['customers']} customers, {config['latency_ms']:g} ms per upstream call, "
        f"{config['workers']} gateway worker(s), {result['machine']['cpus']} CPUs; agents "
        f"{config['rate']:g} whole views/s for {config['duration']:g} s, beside "
        f"{config['analysts']} analysts each sending a page of 50 customers with panels as soon "
        "as the last came back.",
        "",
        f"Analysts' slots per source and gateway worker: {config['analyst_slots'] or 'default'}. "
        "Analysts served "
        + (
            "by a process of their own at a lower CPU priority (SCV_ANALYST_PORT). "
            if config["separate_analysts"]
            else "by the same workers as agents. "
        )
        + "Cost budgets per principal: "
        + ("on (the gateway's defaults)." if config["budget"] else "off (analysts unthrottled)."),
        "",
        "| run | requests | ok | partial | failed | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, row in (
        ("agents alone", alone),
        ("agents beside analysts", beside),
        ("analysts' pages", pages),
    ):
        lines.append(
            f"| {name} | {row['requests']} | {row['ok']} | {row['partial']} | {row['failed']} "
            f"| {row['p50_ms']} | {row['p95_ms']} | {row['p99_ms']} |"
        )
    lines += [
        "",
        f"Upstream calls (all systems): {alone.get('upstream_calls')} in the run alone, "
        f"{beside.get('upstream_calls')} in the run beside analysts (theirs included). Gateway "
        f"CPU: {alone.get('gateway_cores')} cores busy alone, {beside.get('gateway_cores')} "
        f"beside analysts (of {result['machine']['cpus']}; system load average at the end "
        f"{result['load_average']}).",
        "",
        result["verdict"],
        "",
    ]
    if pages["error_samples"]:
        lines += [f"Analysts' error samples: {', '.join(pages['error_samples'])}", ""]
    return "\n".join(lines)


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
            afters, analysts_customers = page_cursors(stack, args.analyst_pages, url)
            emails = asyncio.run(_agent_emails(stack.database_url, analysts_customers))
            half = len(emails) // 2
            print(f"agents alone: {args.rate:g}/s for {args.duration:g} s", flush=True)
            with httpx.Client(timeout=10.0) as client:
                stack.reset_upstream_stats(client)
                cpu, wall = stack.gateway_cpu_seconds(), time.monotonic()
                result["agents_alone"] = summary(agents(stack, emails[:half], args))
                result["agents_alone"]["upstream_calls"] = stack.upstream_calls(client)
                result["agents_alone"]["gateway_cores"] = busy_cores(stack, cpu, wall)
                stack.reset_upstream_stats(client)
            print(f"agents beside {args.analysts} analysts paging", flush=True)
            load: dict[str, Any] = {}
            background = threading.Thread(
                target=lambda: load.update(analysts(stack, afters, args, url)), daemon=True
            )
            cpu, wall = stack.gateway_cpu_seconds(), time.monotonic()
            background.start()
            time.sleep(2.0)
            result["agents_beside_analysts"] = summary(agents(stack, emails[half:], args))
            background.join()
            cores = busy_cores(stack, cpu, wall)
            result["analysts"] = summary(load)
            with httpx.Client(timeout=10.0) as client:
                result["agents_beside_analysts"]["upstream_calls"] = stack.upstream_calls(client)
            result["agents_beside_analysts"]["gateway_cores"] = cores
    result["load_average"] = round(os.getloadavg()[0], 2)
    alone = result["agents_alone"]["p99_ms"]
    beside = result["agents_beside_analysts"]["p99_ms"]
    ratio = beside / alone if alone else float("inf")
    result["p99_ratio"] = round(ratio, 3)
    verdict = "ok  " if ratio <= WITHIN else "MISS"
    result["verdict"] = (
        f"{verdict} agent p99 beside analysts {beside} ms vs alone {alone} ms: "
        f"x{ratio:.2f} (bound x{WITHIN:g})"
    )
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
