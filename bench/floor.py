"""``python -m bench.floor``: the CPU floor of this stack, before the gateway does any work.

The benchmark issue's targets (gateway CPU per whole view: 0.8 ms warm, 2.0 ms cold) are
only reachable if the parts the gateway is built on cost less than that. This measures those
parts alone, on this machine, with nothing of the gateway in them:

- ``http``: uvicorn (uvloop, httptools, no access log) answering a fixed JSON body: HTTP in
  and out, per request;
- ``strawberry``: strawberry's ASGI view on the same server answering ``{ __typename }``, with
  its parser and validation caches: the least a GraphQL request costs through strawberry;
- ``execution``: graphql-core executing the agent desktop's whole-view document
  (``bench.scenarios.WHOLE_VIEW``) against ``schema.graphql`` over plain dicts, in process,
  no resolvers, no strawberry, no I/O: the least the view's fields cost to execute;
- ``upstream call``: one aiohttp GET of a 5 KB JSON list and its orjson parse, client side:
  what each of a cold view's four upstream calls costs at least;
- ``store round trip``: one ``SELECT $1`` through an asyncpg pool (no reset on release, as
  the gateway's pool) against an embedded PostgreSQL, client side: what each of a view's two
  round trips (the lookup of the customer, the audit entry) costs at least.

Servers run in their own process and their CPU is read from ``/proc``; requests come from
``bench.load`` (the benchmark's load process) at 4 concurrent clients. Each figure is the
median of three rounds. The floors: warm = strawberry + execution + 2 store round trips;
cold = warm + 5 upstream calls. Nothing is asserted; the figures go to
``bench/results/floor-<time>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import strawberry
import uvicorn
from graphql import build_schema, execute_sync, parse, validate
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

from app.store.embedded import start_embedded_postgres
from bench import procstat
from bench.scenarios import WHOLE_VIEW
from bench.stack import free_port, stop_process, wait_for

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
#: Calls a cold whole view makes upstream for a customer with a subscription (four; five
#: without one: bench.scenarios.WHOLE_VIEW_CALLS).
COLD_CALLS = 4
#: Store round trips of any whole view: the customer with its links, the audit entry.
STORE_TRIPS = 2
ROUNDS = 3

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# --- what the servers serve ---------------------------------------------------------------


def _upstream_body() -> bytes:
    """A Stripe-shaped list of 10 invoices: about the size of a sandbox answer."""
    invoice = {
        "id": "in_1PZ3jQ2eZvKYlo2C",
        "object": "invoice",
        "number": "8F3A-0001",
        "status": "paid",
        "amount_due": 2900,
        "amount_paid": 2900,
        "amount_remaining": 0,
        "currency": "gbp",
        "created": 1_700_000_000,
        "due_date": None,
        "customer": "cus_Q1w2E3r4T5y6U7",
        "status_transitions": {"paid_at": 1_700_000_100},
    }
    return orjson.dumps({"object": "list", "data": [invoice] * 10, "has_more": False})


UPSTREAM_BODY = _upstream_body()


async def fixed_json(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app answering every request with ``UPSTREAM_BODY``: HTTP and nothing else."""
    if scope["type"] != "http":
        return
    more = True
    while more:  # read the body, as any endpoint must
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": UPSTREAM_BODY})


@strawberry.type
class _Query:
    ping: str = "pong"


typename_view = GraphQL(
    strawberry.Schema(
        query=_Query,
        extensions=[lambda: ParserCache(maxsize=64), lambda: ValidationCache(maxsize=64)],
    )
)

APPS = {"http": "bench.floor:fixed_json", "strawberry": "bench.floor:typename_view"}


def serve(app: str, port: int) -> None:
    uvicorn.run(
        APPS[app],
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


# --- measuring ----------------------------------------------------------------------------


def over_http(app: str, requests: int) -> float:
    """Server CPU ms per request of ``app``, median of ``ROUNDS`` rounds of ``requests``."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--serve", app, "--port", str(port)], cwd=ROOT
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        wait_for(url.replace("/graphql", "/"), server, f"the {app} server", seconds=30)
        body = {"query": "{ __typename }"}
        _drive(url, body, 200)  # warm up: connections, caches
        rounds = []
        for _ in range(ROUNDS):
            before = procstat.cpu_seconds(server.pid)
            sent = _drive(url, body, requests)
            rounds.append((procstat.cpu_seconds(server.pid) - before) * 1000 / sent)
        return statistics.median(rounds)
    finally:
        stop_process(server)


def _drive(url: str, body: dict[str, Any], requests: int) -> int:
    spec = {
        "url": url,
        "token": "floor",
        "mode": "concurrency",
        "concurrency": 4,
        "requests": requests,
        "bodies": [body],
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    result = json.loads(done.stdout)
    if result["ok"] != result["sent"]:
        raise SystemExit(f"{url}: {result['sent'] - result['ok']} requests failed")
    return int(result["sent"])


def whole_view_data(invoices: int, tickets: int) -> dict[str, Any]:
    """A customer known to all three systems, shaped as the whole view selects it."""
    money = {"amount": "29.00", "currency": "GBP"}
    meta = {"source": "BILLING", "sourceRecordId": "cus_Q1w2E3r4", "fetchedAt": "2026-11-24T00:00Z"}
    return {
        "id": "cust_0GEPXlntcnFYb4A",
        "displayName": "Ada L.",
        "links": [
            {"source": source, "externalId": f"{source.lower()}_1", "matchedBy": "anchor"}
            for source in ("CRM", "BILLING", "SUPPORT")
        ],
        "profile": {
            "name": "Ada L.",
            "email": "a***@example.com",
            "phone": "+44 ** **** **12",
            "address": {"line1": None, "city": "Leeds", "postalCode": None, "country": "GB"},
            "meta": {**meta, "source": "CRM"},
        },
        "billing": {
            "balance": money,
            "delinquent": False,
            "subscriptions": [
                {
                    "id": "sub_1",
                    "status": "ACTIVE",
                    "sourceStatus": "active",
                    "planName": "pro",
                    "interval": "month",
                    "currentPeriodEnd": "2026-12-01T00:00Z",
                    "cancelAtPeriodEnd": False,
                    "amount": money,
                }
            ],
            "invoices": [
                {
                    "id": f"in_{n}",
                    "number": f"8F3A-{n:04d}",
                    "status": "PAID",
                    "dueDate": None,
                    "paidAt": "2026-11-01T00:00Z",
                    "overdue": False,
                    "amountDue": money,
                    "amountRemaining": money,
                }
                for n in range(invoices)
            ],
            "meta": meta,
        },
        "support": {
            "openTicketCount": 2,
            "tickets": [
                {
                    "id": str(n),
                    "subject": None,
                    "status": "OPEN",
                    "sourceStatus": "open",
                    "priority": "normal",
                    "createdAt": "2026-11-01T00:00Z",
                    "updatedAt": "2026-11-02T00:00Z",
                }
                for n in range(tickets)
            ],
            "meta": {**meta, "source": "SUPPORT"},
        },
    }


def execution(requests: int, invoices: int, tickets: int) -> float:
    """CPU ms of graphql-core executing the whole view over dicts, median of rounds."""
    schema = build_schema((ROOT / "schema.graphql").read_text())
    document = parse(WHOLE_VIEW)
    if errors := validate(schema, document):
        raise SystemExit(f"the whole view does not validate: {errors}")
    root = {"customerByEmail": whole_view_data(invoices, tickets)}
    variables = {"email": "ada@example.com"}
    rounds = []
    for _ in range(ROUNDS):
        before = time.process_time()
        for _ in range(requests):
            result = execute_sync(schema, document, root_value=root, variable_values=variables)
        rounds.append((time.process_time() - before) * 1000 / requests)
        if result.errors:
            raise SystemExit(f"the whole view failed: {result.errors}")
    return statistics.median(rounds)


def upstream_call(requests: int) -> float:
    """Client CPU ms of one aiohttp GET and its orjson parse, median of rounds."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--serve", "http", "--port", str(port)], cwd=ROOT
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/invoices"
        wait_for(url, server, "the upstream stand-in", seconds=30)
        return asyncio.run(_calls(url, requests))
    finally:
        stop_process(server)


async def _calls(url: str, requests: int) -> float:
    async with aiohttp.ClientSession() as session:

        async def once() -> None:
            async with session.get(url) as response:
                orjson.loads(await response.read())

        for _ in range(100):
            await once()
        rounds = []
        for _ in range(ROUNDS):
            before = time.process_time()
            for _ in range(requests):
                await once()
            rounds.append((time.process_time() - before) * 1000 / requests)
        return statistics.median(rounds)


def store_round_trip(requests: int) -> float:
    """Client CPU ms of one query through an asyncpg pool, median of rounds."""
    data_dir = Path(tempfile.mkdtemp(prefix="scv-floor-"))
    # Registered first, so that it runs after the server's own stop at exit.
    atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
    return asyncio.run(_queries(start_embedded_postgres(data_dir), requests))


async def _no_reset(connection: asyncpg.Connection) -> None:
    """As the gateway's pool: nothing sent when a connection is given back."""


async def _queries(url: str, requests: int) -> float:
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1, reset=_no_reset)
    try:
        for _ in range(100):
            await pool.fetchval("SELECT $1::int", 1)
        rounds = []
        for _ in range(ROUNDS):
            before = time.process_time()
            for _ in range(requests):
                await pool.fetchval("SELECT $1::int", 1)
            rounds.append((time.process_time() - before) * 1000 / requests)
        return statistics.median(rounds)
    finally:
        await pool.close()


# --- the report ---------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    print("uvicorn alone (fixed JSON)...", flush=True)
    http = over_http("http", args.requests)
    print("strawberry, { __typename }...", flush=True)
    typename = over_http("strawberry", args.requests)
    print("graphql-core, the whole view over dicts...", flush=True)
    executed = execution(args.requests, args.invoices, args.tickets)
    print("aiohttp, one upstream call...", flush=True)
    call = upstream_call(args.requests)
    print("asyncpg, one store round trip...", flush=True)
    trip = store_round_trip(args.requests)
    warm = typename + executed + STORE_TRIPS * trip
    return {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "requests_per_round": args.requests,
        "rounds": ROUNDS,
        "invoices": args.invoices,
        "tickets": args.tickets,
        "cpu_ms": {
            "http": round(http, 3),
            "strawberry_typename": round(typename, 3),
            "whole_view_execution": round(executed, 3),
            "upstream_call": round(call, 3),
            "store_round_trip": round(trip, 3),
        },
        "floor_ms": {"warm": round(warm, 3), "cold": round(warm + COLD_CALLS * call, 3)},
        "target_ms": {"warm": 0.8, "cold": 2.0},
    }


def markdown(result: dict[str, Any]) -> str:
    cpu, floor, target = result["cpu_ms"], result["floor_ms"], result["target_ms"]
    rows = [
        ("uvicorn answering fixed JSON (HTTP in and out)", cpu["http"]),
        (
            "strawberry's view, `{ __typename }`, parser and validation cached",
            cpu["strawberry_typename"],
        ),
        (
            f"graphql-core executing the whole view over dicts ({result['invoices']} invoices,"
            f" {result['tickets']} tickets)",
            cpu["whole_view_execution"],
        ),
        ("one upstream call: aiohttp GET + orjson parse, client side", cpu["upstream_call"]),
        ("one store round trip: asyncpg pool, `SELECT $1`, client side", cpu["store_round_trip"]),
        (
            f"**floor, warm** (strawberry + execution + {STORE_TRIPS} round trips);"
            f" target {target['warm']}",
            floor["warm"],
        ),
        (f"**floor, cold** (warm + {COLD_CALLS} calls); target {target['cold']}", floor["cold"]),
    ]
    lines = ["| part | CPU ms |", "|---|---|"]
    lines += [f"| {what} | {ms:.3f} |" for what, ms in rows]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="per round (3000)")
    parser.add_argument("--invoices", type=int, default=5, help="in the view's data (5)")
    parser.add_argument("--tickets", type=int, default=3, help="in the view's data (3)")
    parser.add_argument("--serve", choices=sorted(APPS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.serve is not None:
        serve(args.serve, args.port)
        return
    result = measure(args)
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"floor-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    stem.with_suffix(".md").write_text(table)
    print(table)
    print(f"written: {stem}.json, {stem}.md")


if __name__ == "__main__":
    main()
