"""``python -m bench``: run every scenario and write the results (see README, "Performance")."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import procstat
from bench.report import RSS_GROWTH_MB, RSS_TARGET_MB, checks, markdown, summarise
from bench.scenarios import (
    SCENARIOS,
    WHOLE_VIEW_BY_ID,
    Customers,
    Scenario,
    linked_customers,
    whole_view_bodies,
)
from bench.stack import Stack, StackConfig, own_gateway, running_stack
from resolvers.schema import schema_sdl

RESULTS = Path(__file__).parent / "results"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (make bench-quick)")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="per upstream call (10)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="gateway workers (one per core)"
    )
    parser.add_argument("--rate", type=float, help="open-loop requests per second (100; quick 50)")
    parser.add_argument("--duration", type=float, help="seconds per open-loop run (15; quick 4)")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients (8)")
    parser.add_argument("--soak-requests", type=int, help="memory soak length (100000; quick 3000)")
    parser.add_argument(
        "--soak-concurrency",
        type=int,
        default=16,
        help=(
            "memory soak clients (16: the soak measures memory, not latency, so it keeps both "
            "workers busy: 318 rps against 207 with 8 clients)"
        ),
    )
    parser.add_argument("--customers", type=int, help="sandbox customers (12000; quick 1500)")
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    args = parser.parse_args(argv)
    quick = args.quick
    args.rate = args.rate or (50.0 if quick else 100.0)
    args.duration = args.duration or (4.0 if quick else 15.0)
    args.soak_requests = (
        args.soak_requests if args.soak_requests is not None else (3000 if quick else 100_000)
    )
    # Enough customers linked to all three systems that the cold scenarios never repeat one.
    args.customers = args.customers or (1500 if quick else 12000)
    args.closed_requests = 400 if quick else 1000
    args.flow_requests = 200 if quick else 600
    return args


def drive(stack: Stack, spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load process with ``spec``; its result."""
    spec = {"url": f"{stack.gateway_url}/graphql", "token": stack.token(), **spec}
    done = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec).encode(),
        capture_output=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measured(
    stack: Stack,
    client: httpx.Client,
    scenario: Scenario,
    spec: dict[str, Any],
    latency_ms: float,
    mode: str,
) -> dict[str, Any]:
    stack.reset_upstream_stats(client)
    cpu_before = stack.gateway_cpu_seconds()
    token = stack.token(role=scenario.role, subject=f"bench-{scenario.role}")
    load = drive(stack, {"token": token, **spec})
    cpu = stack.gateway_cpu_seconds() - cpu_before
    calls = stack.upstream_calls(client)
    rss = [procstat.memory_kib(pid)[1] / 1024 for pid in stack.worker_pids()]
    return summarise(
        scenario.name,
        load,
        floor_ms=scenario.rounds * latency_ms,
        cpu_seconds=cpu,
        upstream_calls=calls,
        expected_calls=scenario.expected_calls,
        rss_mb=rss,
        mode=mode,
    )


def run_scenario(
    stack: Stack,
    client: httpx.Client,
    scenario: Scenario,
    customers: Customers,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    if scenario.name == "call_flow":
        return [run_call_flow(stack, client, scenario, customers, args)]
    if scenario.gateway_env:
        with own_gateway(stack, scenario.gateway_env, f"{scenario.name}.log") as own:
            return run_load(own, client, scenario, customers, args)
    return run_load(stack, client, scenario, customers, args)


def run_load(
    stack: Stack,
    client: httpx.Client,
    scenario: Scenario,
    customers: Customers,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """The scenario's open loop, then its closed loop, each measured."""
    bodies = scenario.bodies(customers)
    # A scenario may ask for less load than the rest (analysts' pages are 100 calls each).
    rate = scenario.rate or args.rate
    concurrency = scenario.concurrency or args.concurrency
    open_count = int(rate * args.duration)
    if scenario.warm_up:
        warm_up = {"concurrency": 4, "requests": scenario.warm_up_requests, "bodies": bodies}
        drive(stack, {"mode": "concurrency", **warm_up})
    for system, faults in scenario.faults.items():
        stack.set_faults(client, system, **faults)
    try:
        print(f"  {scenario.name}: {open_count} requests at {rate:g}/s", flush=True)
        open_bodies = bodies[:open_count] if len(bodies) > open_count else bodies
        rows = [
            measured(
                stack,
                client,
                scenario,
                {
                    "mode": "rate",
                    "rate": rate,
                    "duration": args.duration,
                    "bodies": open_bodies,
                },
                args.latency_ms,
                f"{rate:g}/s",
            )
        ]
        # The closed loop takes customers the open loop has not touched, so cold stays cold.
        rest = bodies[open_count:] if len(bodies) > open_count else bodies
        most = min(args.closed_requests, scenario.closed_requests or args.closed_requests)
        count = min(most, len(rest)) if len(bodies) > open_count else most
        print(f"  {scenario.name}: {count} requests from {concurrency} clients", flush=True)
        rows.append(
            measured(
                stack,
                client,
                scenario,
                {
                    "mode": "concurrency",
                    "concurrency": concurrency,
                    "requests": count,
                    "bodies": rest,
                },
                args.latency_ms,
                f"{concurrency} clients",
            )
        )
        return rows
    finally:
        if scenario.faults:
            for system in scenario.faults:
                stack.set_faults(client, system)
            wait_for_recovery(stack, customers)


def wait_for_recovery(stack: Stack, customers: Customers, *, in_a_row: int = 20) -> None:
    """Send support panels until ``in_a_row`` answers in a row are whole again.

    After a fault clears, each worker's circuit breaker stays open for its open time and
    closes only once its probes succeed: without this wait the next scenario would measure
    the recovery. The customers are the faulted scenario's, whose panels failed and so were
    never cached: each request reaches the source and can be a probe.
    """
    query = (
        "query Support($email: String!) "
        "{ customerByEmail(email: $email) { support { openTicketCount } } }"
    )
    emails = customers.source_down_emails()
    deadline = time.monotonic() + 120
    whole = 0
    headers = {"Authorization": f"Bearer {stack.token()}"}
    with httpx.Client(timeout=10.0, headers=headers) as http:
        for email in itertools.cycle(emails):
            body = {"query": query, "variables": {"email": email}}
            answer = http.post(f"{stack.gateway_url}/graphql", json=body).json()
            whole = whole + 1 if not answer.get("errors") else 0
            if whole >= in_a_row:
                return
            if time.monotonic() > deadline:
                print("  (the faulted source had not recovered after 120 s)", flush=True)
                return
            time.sleep(0.05)


def run_call_flow(
    stack: Stack,
    client: httpx.Client,
    scenario: Scenario,
    customers: Customers,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Calls handed over by the sandbox IVR, each claimed and viewed by the agent."""
    phones = customers.call_phones()
    count = min(args.flow_requests, len(phones))
    print(f"  {scenario.name}: {count} calls from {args.concurrency} callers", flush=True)
    spec = {
        "mode": "flow",
        "concurrency": args.concurrency,
        "requests": count,
        "phones": phones,
        "sandbox_url": stack.sandbox_url,
        "gateway_url": stack.gateway_url,
        "ivr_token": stack.token(role="ivr", subject="bench-ivr"),
        "view": WHOLE_VIEW_BY_ID,
    }
    return measured(stack, client, scenario, spec, args.latency_ms, f"{args.concurrency} callers")


def soak(stack: Stack, customers: Customers, args: argparse.Namespace) -> dict[str, Any]:
    """Warm whole views back to back, sampling each worker's RSS once a second."""
    samples: list[list[float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append([procstat.memory_kib(pid)[0] / 1024 for pid in stack.worker_pids()])
            stop.wait(1.0)

    bodies = whole_view_bodies(customers.emails[:20])
    print(f"  memory soak: {args.soak_requests} warm whole views", flush=True)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load = drive(
        stack,
        {
            "mode": "concurrency",
            "concurrency": args.soak_concurrency,
            "requests": args.soak_requests,
            "bodies": bodies,
        },
    )
    stop.set()
    sampler.join()
    start, mid, end = samples[0], samples[len(samples) // 2], samples[-1]
    growth = [round(e - m, 1) for e, m in zip(end, mid, strict=False)]
    return {
        "requests": load["sent"],
        "concurrency": args.soak_concurrency,
        "rps": round(load["sent"] / load["elapsed_s"], 1),
        "failed": load["failed"],
        "rss_start_mb": [round(v, 1) for v in start],
        "rss_mid_mb": [round(v, 1) for v in mid],
        "rss_end_mb": [round(v, 1) for v in end],
        "growth_second_half_mb": growth,
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(UTC)
    sdl = schema_sdl()
    result: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            "latency_ms": args.latency_ms,
            "workers": args.workers,
            "rate": args.rate,
            "duration_s": args.duration,
            "concurrency": args.concurrency,
            "customers": args.customers,
            "quick": args.quick,
        },
        "scenarios": [],
        "skipped": [],
        "checks": [],
    }
    wall = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scv-bench-") as tmp:
        config = StackConfig(Path(tmp), args.customers, args.latency_ms, args.workers)
        with running_stack(config) as stack, httpx.Client(timeout=10.0) as client:
            customers = linked_customers(stack.database_url)
            print(f"{len(customers.emails)} customers linked to all three systems")
            for scenario in SCENARIOS:
                if args.only and scenario.name not in args.only:
                    continue
                if scenario.requires and scenario.requires not in sdl:
                    result["skipped"].append(
                        f"{scenario.name}: the schema has no {scenario.requires} yet"
                    )
                    continue
                if scenario.pending:
                    result["skipped"].append(f"{scenario.name}: {scenario.pending}")
                    continue
                result["scenarios"].extend(run_scenario(stack, client, scenario, customers, args))
            if args.soak_requests and not args.only:
                result["soak"] = soak(stack, customers, args)
    for row in result["scenarios"]:
        if row["mode"].endswith("/s"):
            result["checks"].extend(checks(row))
    if "soak" in result:
        s = result["soak"]
        for end, growth in zip(s["rss_end_mb"], s["growth_second_half_mb"], strict=False):
            verdict = "ok  " if end <= RSS_TARGET_MB else "MISS"
            result["checks"].append(f"{verdict} RSS per worker {end} MB <= {RSS_TARGET_MB:g}")
            verdict = "ok  " if growth <= RSS_GROWTH_MB else "MISS"
            result["checks"].append(
                f"{verdict} RSS growth over the second half {growth} MB <= {RSS_GROWTH_MB:g}"
            )
    result["wall_seconds"] = round(time.monotonic() - wall, 1)
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (RESULTS / f"{stamp}.md").write_text(table)
    print()
    print(table)
    print(f"wrote bench/results/{stamp}.json and .md ({result['wall_seconds']} s)")


if __name__ == "__main__":
    main()
