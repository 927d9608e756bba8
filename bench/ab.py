"""``python -m bench.ab --base REF``: gateway CPU per request of this checkout against another
commit, side by side on one machine, their batches interleaved.

On a shared machine one run's CPU per request moves 15-20% with the neighbours, so two
``make bench`` runs an hour apart cannot tell a 10% change from noise. Here the gateway of
``REF`` (checked out into a temporary git worktree) and this checkout's run at the same time
beside one sandbox and one PostgreSQL, one worker each, and every round sends a batch to
each in turn (the order alternating between rounds), so both meet the same neighbours.
It prints each round's figure and the medians; nothing is asserted.

Against a commit from before the orders database, A cannot read the ORDERS links of this
checkout's store nor answer its orders panel: A then runs on a store of its own, linked by
its own ``scv sync``, without the orders settings, and is asked the whole view without the
orders panel (four sources against B's five); ``--same-view`` asks B that view too, so that
both do the same work. ``--a-env`` gives A a setting of its own: with ``--base HEAD``, B - A is
what that setting's default costs (``SCV_WHOLE_RESPONSE__ENABLED=false``: the whole-response
cache's cost on a cold view).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import procstat
from bench.__main__ import drive
from bench.scenarios import (
    BY_PHONE,
    WHOLE_VIEW,
    Customers,
    linked_customers,
    view_without,
    whole_view_bodies,
)
from bench.stack import (
    StackConfig,
    free_port,
    gateway_environment,
    running_stack,
    stop_process,
    wait_for,
)

#: Requests per batch of a warm or store-only case (cold cases take the customers they have).
BATCH = 1500

#: Each case's requests for some customers, asking the whole view as given.
CASES: dict[str, Callable[[Customers, str], list[dict[str, Any]]]] = {
    "whole_view_warm": lambda c, view: whole_view_bodies(c.emails[:1], view),
    "whole_view_cold": lambda c, view: whole_view_bodies(c.emails, view),
    "lookup_by_phone": lambda c, view: [
        {"query": BY_PHONE, "variables": {"phone": p}, "operationName": "ByPhone"} for p in c.phones
    ],
}
#: Cases whose requests must each meet a cold cache: every batch gets customers of its own.
COLD = {"whole_view_cold"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__)
    parser.add_argument("--base", required=True, help="the commit to compare with (A)")
    parser.add_argument(
        "--cases",
        default=",".join(CASES),
        help=f"comma-separated, of {', '.join(CASES)} (all)",
    )
    parser.add_argument("--rounds", type=int, default=4, help="batches per gateway (4)")
    parser.add_argument("--customers", type=int, default=5000, help="sandbox customers (5000)")
    parser.add_argument(
        "--a-without",
        action="append",
        default=[],
        metavar="PANEL",
        help="ask A the whole view without this panel (a field of Customer; repeatable): "
        "with --base HEAD, B - A is what the panel costs, e.g. one upstream round trip",
    )
    parser.add_argument(
        "--a-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of A's gateway only (repeatable): with --base HEAD, B - A is what "
        "the setting's default costs, e.g. SCV_WHOLE_RESPONSE__ENABLED=false",
    )
    parser.add_argument(
        "--same-view",
        action="store_true",
        help="ask B the view A is asked (against a commit without the orders panel: both "
        "the four-panel view), so that both do the same work",
    )
    args = parser.parse_args(argv)
    bad = [pair for pair in args.a_env if "=" not in pair or not pair.startswith("SCV_")]
    if bad:
        parser.error(f"--a-env takes SCV_NAME=VALUE, not {', '.join(bad)}")
    unknown = set(args.cases.split(",")) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    return args


def _worktree(ref: str, into: Path) -> None:
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(into), ref],
        check=True,
        capture_output=True,
    )


@contextmanager
def checked_out(ref: str, prefix: str) -> Iterator[tuple[Path, Path]]:
    """A temporary folder and, in it, ``ref`` checked out as a git worktree (``base``),
    removed afterwards: (folder, worktree)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        base = Path(tmp) / "base"
        _worktree(ref, base)
        try:
            yield Path(tmp), base
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], check=False)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with checked_out(args.base, "scv-ab-") as (tmp, base):
        compare(args, tmp, base)


def _knows_orders(checkout: Path) -> bool:
    """Whether the gateway of ``checkout`` has the orders panel (its printed schema says)."""
    return "orders: OrderHistory" in (checkout / "schema.graphql").read_text()


def _knows_rate_limits(checkout: Path) -> bool:
    """Whether the gateway of ``checkout`` has per-source rate limits (its settings refuse
    the ``SCV_<SOURCE>__RATE_LIMIT__...`` the stack lifts them with, when it has none)."""
    found = subprocess.run(
        ["git", "grep", "--quiet", "RateLimitSettings", "--", "*.py"], cwd=checkout, check=False
    )
    return found.returncode == 0


def _own_store(server_url: str, name: str) -> str:
    """A new, empty database ``name`` on ``server_url``'s server; its URL."""

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            statement = await conn.fetchval("select format('create database %I', $1::text)", name)
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(create())
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def environment_for(
    checkout: Path, ref: str, env: dict[str, str], database_url: str, log: IO[bytes]
) -> tuple[dict[str, str], bool]:
    """``env`` as the gateway of ``checkout`` (commit ``ref``) can run with, and whether it
    has no orders panel: a commit from before the per-source rate limits is not given them;
    one from before the orders database gets a store of its own (linked by its own ``scv
    sync``) and no orders settings."""
    if not _knows_rate_limits(checkout):
        env = {k: v for k, v in env.items() if "__RATE_LIMIT__" not in k}
    if _knows_orders(checkout):
        return env, False
    env = {k: v for k, v in env.items() if not k.startswith("SCV_ORDERS__")}
    env["SCV_DATABASE_URL"] = _own_store(database_url, f"scv_ab_{checkout.name}")
    print(f"{ref} has no orders database: its own store, its own sync")
    subprocess.run(
        [sys.executable, "-m", "app.cli", "sync"],
        env=env,
        cwd=checkout,
        check=True,
        stdout=log,
        stderr=log,
    )
    return env, True


def compare(args: argparse.Namespace, tmp: Path, base: Path) -> None:
    config = StackConfig(tmp / "stack", args.customers, 0.0, 1)
    config.data_dir.mkdir()
    with running_stack(config) as stack:
        port = free_port()
        env = gateway_environment(config, stack.database_url, stack.sandbox_url, port)
        (tmp / "metrics-base").mkdir()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp / "metrics-base")
        views = {"A": WHOLE_VIEW, "B": WHOLE_VIEW}
        for panel in args.a_without:
            views["A"] = view_without(views["A"], panel)
        with (tmp / "base.log").open("wb") as log:
            env, without_orders = environment_for(base, args.base, env, stack.database_url, log)
            if without_orders:
                views["A"] = view_without(views["A"], "orders")
            for pair in args.a_env:
                name, value = pair.split("=", 1)
                env[name] = value
            if args.same_view:
                views["B"] = views["A"]
            # Run from the worktree: ``python -m`` puts it first on the path.
            other = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"],
                env=env,
                cwd=base,
                stdout=log,
                stderr=log,
            )
            try:
                wait_for(f"http://127.0.0.1:{port}/readyz", other, f"the gateway of {args.base}")
                gateways = {
                    "A": (
                        f"http://127.0.0.1:{port}/graphql",
                        lambda: sum(procstat.cpu_seconds(p) for p in procstat.tree(other.pid)),
                    ),
                    "B": (f"{stack.gateway_url}/graphql", stack.gateway_cpu_seconds),
                }
                customers = linked_customers(stack.database_url)
                print(f"A = {args.base}, B = this checkout; gateway CPU ms per request")
                for case in args.cases.split(","):
                    bodies = {name: CASES[case](customers, view) for name, view in views.items()}
                    rounds = run_case(stack, gateways, case, bodies, args.rounds)
                    report(case, rounds)
            finally:
                stop_process(other)


def run_case(
    stack: Any,
    gateways: dict[str, tuple[str, Callable[[], float]]],
    case: str,
    bodies_by_gateway: dict[str, list[dict[str, Any]]],
    rounds: int,
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"A": [], "B": []}
    # Cold: each gateway its own half of the customers, each round the next slice of it.
    half = len(bodies_by_gateway["A"]) // 2
    step = half // rounds
    for i in range(rounds):
        for name in ("A", "B") if i % 2 == 0 else ("B", "A"):
            url, cpu = gateways[name]
            bodies = bodies_by_gateway[name]
            if case in COLD:
                start = (0 if name == "A" else half) + i * step
                batch = bodies[start : start + step]
            else:
                batch = bodies
                # Warm-up: the cache (warm cases) and the process's own first calls.
                warm_up = {"mode": "concurrency", "concurrency": 4, "requests": 100}
                drive(stack, {"url": url, **warm_up, "bodies": batch})
            requests = len(batch) if case in COLD else BATCH
            before = cpu()
            load = drive(
                stack,
                {
                    "url": url,
                    "mode": "concurrency",
                    "concurrency": 4,
                    "requests": requests,
                    "bodies": batch,
                },
            )
            if load["failed"]:
                raise SystemExit(f"{case}: {load['failed']} requests failed on {name}")
            figures[name].append((cpu() - before) * 1000 / load["sent"])
    return figures


def report(case: str, figures: dict[str, list[float]]) -> None:
    a, b = statistics.median(figures["A"]), statistics.median(figures["B"])
    rounds = " | ".join(
        f"{name} {' '.join(f'{x:.2f}' for x in values)}" for name, values in figures.items()
    )
    print(f"{case}: {rounds} | median A {a:.2f}, B {b:.2f} ({100 * (b - a) / a:+.0f}%)")


if __name__ == "__main__":
    main()
