"""``python -m bench.writes``: writes per second with the outbox, and how long the outbox
takes to drain once the system of record is back.

Over the real stack (``bench.stack``: the gateway as ``scv serve``, the sandbox with a fixed
latency per call), a supervisor (who may add notes without holding a call) sends
``addCustomerNote`` mutations at a fixed concurrency:

1. CRM up: every note is APPLIED within its request. Figure: writes per second.
2. CRM down (every call answered 503): every note is accepted PENDING into the outbox at
   once. Figure: writes per second sustained with the outbox.
3. The CRM comes back; the outbox's worker delivers. Figure: seconds from the CRM's return
   until no write is PENDING (``scv_writes{status="PENDING"}`` on ``/metrics``), and the
   counts: every note APPLIED, none FAILED.

Figures are reported (bench/results/writes-<time>.json and .md), never asserted by tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.report import percentile
from bench.stack import Stack, StackConfig, running_stack

RESULTS = Path(__file__).parent / "results"
NOTE = """mutation Note($id: ID!, $body: String!, $key: String!) {
  addCustomerNote(customerId: $id, body: $body, idempotencyKey: $key) { id status }
}"""
CUSTOMER_IDS = """query Ids($after: String) {
  customers(first: 100, after: $after) {
    edges { node { id facts { linkedSources } } }
    pageInfo { endCursor hasNextPage }
  }
}"""
_PENDING = re.compile(r'^scv_writes\{status="(\w+)"\} ([0-9.e+]+)$', re.MULTILINE)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.writes", description=__doc__)
    parser.add_argument("--customers", type=int, default=300, help="sandbox customers (300)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="per upstream call (20)")
    parser.add_argument("--workers", type=int, default=1, help="gateway workers (1)")
    parser.add_argument("--concurrency", type=int, default=16, help="mutations in flight (16)")
    parser.add_argument("--writes", type=int, default=400, help="notes per phase (400)")
    parser.add_argument(
        "--backoff-max", type=float, default=5.0, help="SCV_WRITES__BACKOFF_MAX_SECONDS (5)"
    )
    return parser.parse_args(argv)


async def customer_ids(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        answer = await http.post(
            f"{url}/graphql",
            json={"query": CUSTOMER_IDS, "variables": {"after": after}},
            headers=headers,
        )
        page = answer.json()["data"]["customers"]
        # Notes go to the CRM: customers without a CRM contact would be BAD_USER_INPUT.
        ids.extend(
            edge["node"]["id"]
            for edge in page["edges"]
            if "CRM" in ((edge["node"].get("facts") or {}).get("linkedSources") or [])
        )
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


async def send_notes(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    ids: list[str],
    count: int,
    concurrency: int,
) -> dict[str, Any]:
    """``count`` notes, ``concurrency`` at a time: the rate, latencies and statuses."""
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    async def one(n: int) -> None:
        variables = {"id": ids[n % len(ids)], "body": f"bench note {n}", "key": str(uuid.uuid4())}
        async with gate:
            started = time.perf_counter()
            answer = await http.post(
                f"{url}/graphql", json={"query": NOTE, "variables": variables}, headers=headers
            )
            latencies.append(time.perf_counter() - started)
        body = answer.json()
        status = (body.get("data") or {}).get("addCustomerNote") or {}
        key = status.get("status") or (body.get("errors") or [{}])[0].get("extensions", {}).get(
            "code", "ERROR"
        )
        statuses[key] = statuses.get(key, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "writes": count,
        "seconds": round(seconds, 3),
        "writes_per_second": round(count / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "statuses": statuses,
    }


async def outbox_counts(http: httpx.AsyncClient, url: str) -> dict[str, float]:
    text = (await http.get(f"{url}/metrics")).text
    return {status: float(value) for status, value in _PENDING.findall(text)}


async def seconds_until_drained(http: httpx.AsyncClient, url: str, since: float) -> float:
    """Seconds from ``since`` until the outbox has no PENDING write (looked at every 0.1 s)."""
    for _ in range(36_000):
        if (await outbox_counts(http, url)).get("PENDING", 0) == 0:
            return time.perf_counter() - since
        await asyncio.sleep(0.1)
    raise RuntimeError("the outbox did not drain within an hour")


async def run(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {stack.token('supervisor', 'bench-supervisor')}"}
    async with httpx.AsyncClient(timeout=60.0) as http:
        ids = await customer_ids(http, stack.gateway_url, headers)
        print(f"{len(ids)} customers; CRM up: {args.writes} notes")
        up = await send_notes(http, stack.gateway_url, headers, ids, args.writes, args.concurrency)
        print(f"  {up['writes_per_second']} writes/s, {up['statuses']}")
        crm_down = {"latency_ms": args.latency_ms, "error_rate": 1.0, "error_status": 503}
        faults = f"{stack.sandbox_url}/crm/_sandbox/faults"
        (await http.post(faults, json=crm_down)).raise_for_status()
        print(f"CRM down (503): {args.writes} notes into the outbox")
        down = await send_notes(
            http, stack.gateway_url, headers, ids, args.writes, args.concurrency
        )
        print(f"  {down['writes_per_second']} writes/s, {down['statuses']}")
        before = await outbox_counts(http, stack.gateway_url)
        (await http.post(faults, json={"latency_ms": args.latency_ms})).raise_for_status()
        back = time.perf_counter()
        drained = await seconds_until_drained(http, stack.gateway_url, back)
        after = await outbox_counts(http, stack.gateway_url)
        print(f"  outbox drained {drained:.1f} s after the CRM came back: {after}")
    return {
        "crm_up": up,
        "crm_down_outbox": down,
        "outbox_before_return": before,
        "seconds_from_return_to_drained": round(drained, 2),
        "outbox_after": after,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = {
        "SCV_WRITES__BACKOFF_MAX_SECONDS": str(args.backoff_max),
        "SCV_WRITES__SUPERVISOR_WRITES": '["addCustomerNote"]',
    }
    with tempfile.TemporaryDirectory(prefix="scv-bench-writes-") as tmp:
        config = StackConfig(
            data_dir=Path(tmp),
            customers=args.customers,
            latency_ms=args.latency_ms,
            workers=args.workers,
            gateway_env=env,
        )
        with running_stack(config) as stack:
            figures = asyncio.run(run(stack, args))
    result = {
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": vars(args),
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"writes-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"writes-{stamp}.md").write_text(_markdown(result))
    print(f"wrote {path}")


def _markdown(result: dict[str, Any]) -> str:
    up, down = result["crm_up"], result["crm_down_outbox"]
    return (
        "# Writes and the outbox\n\n"
        f"{result['at']}, {result['machine']['cpus']} CPUs, settings {result['settings']}\n\n"
        "| phase | writes/s | p50 ms | p99 ms | statuses |\n|---|---|---|---|---|\n"
        f"| CRM up (APPLIED in the request) | {up['writes_per_second']} | {up['p50_ms']} | "
        f"{up['p99_ms']} | {up['statuses']} |\n"
        f"| CRM 503 (PENDING in the outbox) | {down['writes_per_second']} | {down['p50_ms']} | "
        f"{down['p99_ms']} | {down['statuses']} |\n\n"
        f"From the CRM's return to no write PENDING: "
        f"{result['seconds_from_return_to_drained']} s; after: {result['outbox_after']}\n"
    )


if __name__ == "__main__":
    main()
