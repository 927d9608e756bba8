"""``python -m bench.soak``: one worker's memory over 100,000 requests, the response cache on.

The stack as an operator runs it (``bench.stack``: embedded PostgreSQL, the sandbox, a sync,
``scv serve`` in production mode, one worker) with its defaults: the panel cache and the
whole-response cache on. The load is a contact centre's day in miniature: most views are of
the customers being called about now (a few hundred, repeated), the rest a long tail of
customers seen once or twice, by email or by phone, from many agents and some supervisors
(each principal its own token; supervisors' answers are never kept, so they execute).

The requests go in equal slices; after each, the worker's resident set (VmRSS) is read.
Flat after the caches have filled (their sizes are bounded: ``SCV_CACHE__MEMORY_MAX_ENTRIES``,
``SCV_WHOLE_RESPONSE__MAX_ENTRIES``) means bounded growth; a steady climb to the end would
be a leak. Figures are printed and written to ``bench/results/soak-<time>.json``; nothing
is asserted.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procstat
from bench.__main__ import RESULTS, drive
from bench.scenarios import BY_PHONE, Customers, linked_customers, whole_view_bodies
from bench.stack import StackConfig, running_stack

#: Agents and supervisors sending the load (one token each).
AGENTS = 40
SUPERVISORS = 8
#: Share of requests about the customers being called about now (the hot set).
HOT_SHARE = 0.8
HOT_CUSTOMERS = 300
#: Share of requests that look a caller up by phone rather than ask the whole view.
BY_PHONE_SHARE = 0.1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--requests", type=int, default=100_000, help="requests (100,000)")
    parser.add_argument("--slices", type=int, default=20, help="RSS readings (20)")
    parser.add_argument("--customers", type=int, default=5000, help="sandbox customers (5000)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients at once (8)")
    parser.add_argument("--seed", type=int, default=22)
    return parser.parse_args(argv)


def bodies(customers: Customers, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """``count`` requests: the hot set most of the time, else the long tail; some by phone."""
    emails = customers.emails
    hot = emails[:HOT_CUSTOMERS]
    phones = customers.phones
    chosen: list[dict[str, Any]] = []
    for _ in range(count):
        if phones and rng.random() < BY_PHONE_SHARE:
            phone = rng.choice(phones)
            chosen.append({"query": BY_PHONE, "variables": {"phone": phone}})
            continue
        email = rng.choice(hot) if rng.random() < HOT_SHARE else rng.choice(emails)
        chosen.extend(whole_view_bodies([email]))
    return chosen


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    per_slice = args.requests // args.slices
    readings: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scv-soak-") as tmp:
        config = StackConfig(Path(tmp), args.customers, 0.0, 1)
        with running_stack(config) as stack:
            customers = linked_customers(stack.database_url)
            tokens = [stack.token(subject=f"soak-agent-{n}") for n in range(AGENTS)]
            tokens += [
                stack.token(role="supervisor", subject=f"soak-supervisor-{n}")
                for n in range(SUPERVISORS)
            ]
            rng.shuffle(tokens)
            worker = stack.worker_pids()[0]
            started = time.perf_counter()
            rss, _ = procstat.memory_kib(worker)
            readings.append({"requests": 0, "rss_mib": round(rss / 1024, 1), "seconds": 0.0})
            print(f"before any request: {rss / 1024:.1f} MiB")
            sent = failed = 0
            for n in range(args.slices):
                spec = {
                    "mode": "concurrency",
                    "concurrency": args.concurrency,
                    "requests": per_slice,
                    "bodies": bodies(customers, per_slice, rng),
                    "tokens": tokens,
                    # A supervisor states a purpose; agents may too.
                    "headers": {"X-Purpose": "soak"},
                }
                load = drive(stack, spec)
                sent += load["sent"]
                failed += load["failed"]
                rss, peak = procstat.memory_kib(worker)
                reading = {
                    "requests": sent,
                    "rss_mib": round(rss / 1024, 1),
                    "peak_rss_mib": round(peak / 1024, 1),
                    "seconds": round(time.perf_counter() - started, 1),
                    "failed": load["failed"],
                    "partial": load["partial"],
                }
                readings.append(reading)
                print(
                    f"slice {n + 1}/{args.slices}: {sent} requests, RSS {reading['rss_mib']} MiB "
                    f"(peak {reading['peak_rss_mib']}), {load['failed']} failed"
                )
    report(args, readings, sent, failed)


def report(
    args: argparse.Namespace, readings: list[dict[str, Any]], sent: int, failed: int
) -> None:
    # Growth after the caches filled: from the end of the first quarter to the end.
    settled = readings[max(1, len(readings) // 4)]
    last = readings[-1]
    growth = last["rss_mib"] - settled["rss_mib"]
    summary = {
        "requests": sent,
        "failed": failed,
        "rss_mib_before": readings[0]["rss_mib"],
        "rss_mib_after_first_quarter": settled["rss_mib"],
        "rss_mib_at_end": last["rss_mib"],
        "growth_mib_after_first_quarter": round(growth, 1),
        "growth_kib_per_1000_requests_after_first_quarter": round(
            growth * 1024 * 1000 / max(1, last["requests"] - settled["requests"]), 2
        ),
    }
    result = {
        "bench": "soak",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {
            "customers": args.customers,
            "concurrency": args.concurrency,
            "agents": AGENTS,
            "supervisors": SUPERVISORS,
            "hot_share": HOT_SHARE,
            "hot_customers": HOT_CUSTOMERS,
            "by_phone_share": BY_PHONE_SHARE,
            "response_cache": "on (defaults)",
            "whole_response_cache": "on (defaults)",
        },
        "summary": summary,
        "readings": readings,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
