"""``python -m bench.audit_group``: the gateway's CPU per audited request, with concurrent
requests' entries grouped into one INSERT (``SCV_AUDIT__GROUP_WRITES``) and without.

The audit sink alone over an embedded PostgreSQL, as a request writes through it: one READ
entry per request, ``--clients`` requests at once, each writing as soon as the last
answered (a closed loop: the most overlap a worker could see). Grouped and one statement
per request run in turn, ``--rounds`` times, so that both meet the same neighbours; this
process's CPU (the gateway's side: PostgreSQL's own CPU is not counted) per request,
statements per request, and the wall time per request are printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from app.security.audit import PostgresAuditSink
from app.security.audit_metrics import AuditMetrics
from app.security.settings import AuditSettings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from kernel.access import AuditEntry
from kernel.identity import CustomerId

ENTRY = AuditEntry(
    kind="READ",
    subject="bench-agent",
    role="agent",
    outcome="masked",
    customer_id=CustomerId("bench-customer"),
    request_id="bench",
    fields=("Profile.name", "Profile.email", "BillingAccount.balance"),
    masked=True,
)


async def run(
    trail: AuditTrailStore, grouped: bool, clients: int, requests: int
) -> tuple[float, float, float]:
    """(CPU ms, statements, wall ms) per request."""
    sink = PostgresAuditSink(
        trail, AuditSettings(group_writes=grouped), AuditMetrics.create(CollectorRegistry())
    )
    left = iter(range(requests))

    async def client() -> None:
        for _ in left:
            await sink.record([ENTRY])

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    group = sink._grouped
    statements = group.statements if group is not None else requests
    return cpu * 1000 / requests, statements / requests, wall * 1000 / requests


async def measure(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="scv-audit-group-") as tmp:
        store = await Store.connect(start_embedded_postgres(Path(tmp)), pool_size=10)
        try:
            await store.migrate()
            trail = AuditTrailStore(store)
            await run(trail, True, 4, 500)  # warm-up: the pool, the prepared statement
            print("clients | one INSERT per request: CPU ms | grouped: CPU ms, statements/req")
            for clients in args.clients:
                figures: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
                for n in range(args.rounds):
                    for grouped in (True, False) if n % 2 else (False, True):
                        figures[grouped].append(await run(trail, grouped, clients, args.requests))
                apart = statistics.median(f[0] for f in figures[False])
                together = statistics.median(f[0] for f in figures[True])
                per = statistics.median(f[1] for f in figures[True])
                wall_apart = statistics.median(f[2] for f in figures[False])
                wall_together = statistics.median(f[2] for f in figures[True])
                print(
                    f"{clients:7d} | {apart:.3f} (wall {wall_apart:.3f}) | {together:.3f} "
                    f"(wall {wall_together:.3f}), {per:.2f} statements/request "
                    f"({100 * (together - apart) / apart:+.0f}% CPU)"
                )
        finally:
            await store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_group", description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=3000, help="per run (3000)")
    parser.add_argument("--rounds", type=int, default=4, help="runs of each, in turn (4)")
    asyncio.run(measure(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
