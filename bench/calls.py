"""``python -m bench.calls --base REF``: Python function calls per cold whole view, this
checkout against another commit. A count, not a timing: it does not move with the machine.

On this shared machine a CPU figure moves 10-30% between runs: ``make bench-ab`` interleaves
two gateways' batches so that both meet the same neighbours, and still its cold medians for
one pair of commits moved between +13% and +34% over three runs in one hour. The number of
Python function calls a request makes does not move: each gateway runs under cProfile
(``bench/calls_probe.py``), switched on only while the measured requests run, so start-up and
warm-up are not counted. Both gateways are asked the same customers, each cold in its own
process, the same view (the four-panel one when REF has no orders panel, as ``bench.ab
--same-view`` asks it), one request at a time, so that no request shares a fetch with another.

What it cannot see: time in C (pydantic-core, orjson, uvloop, the kernel's sockets) and the
cost of each call. A change that adds calls costs CPU; one that adds none may still. It
complements ``make bench-ab``; it does not replace it. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import pstats
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.__main__ import drive
from bench.ab import checked_out, environment_for
from bench.scenarios import BY_PHONE, WHOLE_VIEW, linked_customers, view_without, whole_view_bodies
from bench.stack import StackConfig, free_port, gateway_environment, running_stack, stop_process
from bench.stack import wait_for as wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "calls_probe.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.calls", description=__doc__)
    parser.add_argument("--base", required=True, help="the commit to compare with (A)")
    parser.add_argument("--requests", type=int, default=500, help="cold views counted (500)")
    parser.add_argument(
        "--case",
        choices=["whole_view_cold", "lookup_by_phone"],
        default="whole_view_cold",
        help="what is asked: the whole view of a customer not seen yet (default), or the "
        "IVR's lookup of a caller by phone (the store alone, no upstream call)",
    )
    parser.add_argument("--top", type=int, default=15, help="packages listed (15)")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep both profiles there (A.prof, B.prof: for pstats or snakeviz)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with checked_out(args.base, "scv-calls-") as (tmp, base):
        compare(args, tmp, base)


def compare(args: argparse.Namespace, tmp: Path, base: Path) -> None:
    # About two in three sandbox customers are linked in all three systems the view reads.
    config = StackConfig(tmp / "stack", max(2000, 2 * (args.requests + 100)), 0.0, 1)
    config.data_dir.mkdir()
    with running_stack(config) as stack:
        customers = linked_customers(stack.database_url)
        if len(customers.phones) < args.requests + 100:
            raise SystemExit(f"only {len(customers.phones)} linked customers: ask fewer")
        checkouts = {"A": (base, args.base), "B": (ROOT, "this checkout")}
        views: dict[str, str] = {}
        profiles: dict[str, Path] = {}
        environments: dict[str, tuple[dict[str, str], int]] = {}
        with (tmp / "gateways.log").open("wb") as log:
            for name, (checkout, ref) in checkouts.items():
                port = free_port()
                env = gateway_environment(config, stack.database_url, stack.sandbox_url, port)
                (tmp / f"metrics-{name}").mkdir()
                env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / f"metrics-{name}")
                env, without_orders = environment_for(checkout, ref, env, stack.database_url, log)
                views[name] = view_without(WHOLE_VIEW, "orders") if without_orders else WHOLE_VIEW
                environments[name] = (env, port)
            if views["A"] != views["B"]:
                views["B"] = views["A"]  # the same work for both
            for name, (checkout, _) in checkouts.items():
                env, port = environments[name]
                profiles[name] = tmp / f"profile-{name}.prof"
                if args.case == "lookup_by_phone":
                    bodies = [
                        {"query": BY_PHONE, "variables": {"phone": p}, "operationName": "ByPhone"}
                        for p in customers.phones
                    ]
                else:
                    bodies = whole_view_bodies(customers.emails, views[name])
                count_calls(stack, checkout, env, port, log, profiles[name], bodies, args)
        print(
            f"A = {args.base}, B = this checkout; Python function calls per request ({args.case})"
        )
        report(profiles, args.requests, args.top)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name, profile in profiles.items():
                shutil.copyfile(profile, args.keep / f"{name}.prof")


def count_calls(
    stack: Any,
    checkout: Path,
    env: dict[str, str],
    port: int,
    log: Any,
    output: Path,
    bodies: list[dict[str, Any]],
    args: argparse.Namespace,
) -> None:
    """Send ``args.requests`` of ``bodies`` (each a customer not asked before) to the
    gateway of ``checkout``, counting its calls into ``output``."""
    gateway = subprocess.Popen(
        [sys.executable, str(PROBE), str(output), "serve"],
        env=env,
        cwd=checkout,
        stdout=log,
        stderr=log,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{url}/readyz", gateway, f"the gateway of {checkout}")
        spec = {"url": f"{url}/graphql", "mode": "concurrency", "concurrency": 1}
        # The process's first calls (connections, first imports) before counting starts.
        drive(stack, {**spec, "requests": 100, "bodies": bodies[-100:]})
        gateway.send_signal(signal.SIGUSR1)
        load = drive(stack, {**spec, "requests": args.requests, "bodies": bodies[: args.requests]})
        gateway.send_signal(signal.SIGUSR2)
        if load["failed"]:
            raise SystemExit(f"{load['failed']} requests failed on the gateway of {checkout}")
        deadline = time.monotonic() + 30
        while not output.exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"the gateway of {checkout} wrote no profile")
            time.sleep(0.1)
    finally:
        stop_process(gateway)


def by_package(profile: Path) -> Counter[str]:
    """Calls in ``profile`` by where the called function lives (a package, or this project's
    top-level folder)."""
    calls: Counter[str] = Counter()
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    for (path, _, function), (_, count, *_) in stats.items():
        calls[_package(path, function)] += count
    return calls


def _package(path: str, function: str) -> str:
    if path == "~":
        return "builtins"
    for marker in ("site-packages/", "/lib/python3.11/"):
        if marker in path:
            rest = path.split(marker, 1)[1]
            return rest.split("/", 1)[0].removesuffix(".py")
    for top in ("app", "adapters", "resolvers", "kernel"):
        if f"/{top}/" in path:
            return f"{top}/ (this project)"
    return "other"


def report(profiles: dict[str, Path], requests: int, top: int) -> None:
    a, b = by_package(profiles["A"]), by_package(profiles["B"])
    total_a, total_b = sum(a.values()) / requests, sum(b.values()) / requests
    print(
        f"total: A {total_a:,.0f}, B {total_b:,.0f} ({100 * (total_b - total_a) / total_a:+.1f}%)"
    )
    print(f"{'A':>8} {'B':>8} {'B - A':>8}  where")
    names = sorted(set(a) | set(b), key=lambda n: -max(a[n], b[n]))[:top]
    for name in names:
        per_a, per_b = a[name] / requests, b[name] / requests
        print(f"{per_a:8,.0f} {per_b:8,.0f} {per_b - per_a:+8,.0f}  {name}")


if __name__ == "__main__":
    main()
