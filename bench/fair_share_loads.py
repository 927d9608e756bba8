"""The loads a fair-share run drives (``python -m bench.fair_share``): agents' whole views,
analysts' pages, both at once, and the cores the gateway keeps busy meanwhile."""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

import httpx

from bench import procstat
from bench.__main__ import drive
from bench.fair_share_report import summary
from bench.scenarios import whole_view_bodies
from bench.stack import Stack

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


class Cores:
    """How many cores the gateway kept busy, and the machine left idle, over a run."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._cpu = stack.gateway_cpu_seconds()
        self._idle = procstat.machine_idle_seconds()
        self._wall = time.monotonic()

    def measured(self) -> tuple[float, float]:
        """(gateway cores busy, machine cores idle) since this was made."""
        seconds = time.monotonic() - self._wall
        if not seconds:
            return 0.0, 0.0
        busy = (self._stack.gateway_cpu_seconds() - self._cpu) / seconds
        idle = (procstat.machine_idle_seconds() - self._idle) / seconds
        return round(busy, 2), round(idle, 2)


def fair_share_state(client: httpx.Client, url: str) -> dict[str, str]:
    """The analysts' lanes as ``/metrics`` shows them now: limit, waits, refusals."""
    text = client.get(f"{url}/metrics").text
    return {
        line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1]
        for line in text.splitlines()
        if line.startswith("scv_fair_share_") and not line.endswith(" 0.0")
    }


def agents(
    stack: Stack, emails: list[str], args: argparse.Namespace, duration: float
) -> dict[str, Any]:
    count = int(args.rate * duration)
    if len(emails) < count:
        raise RuntimeError(f"{len(emails)} agent customers for {count} requests: add --customers")
    return drive(
        stack,
        {
            "mode": "rate",
            "rate": args.rate,
            "duration": duration,
            "bodies": whole_view_bodies(emails[:count]),
            "tokens": [stack.token("agent", f"bench-agent-{n}") for n in range(AGENTS)],
        },
    )


def analysts(
    stack: Stack, afters: list[str | None], args: argparse.Namespace, url: str, duration: float
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
            "duration": duration,
            "bodies": bodies,
            "tokens": [stack.token("analyst", f"bench-analyst-{n}") for n in range(args.analysts)],
        },
    )


def both(
    stack: Stack,
    client: httpx.Client,
    args: argparse.Namespace,
    url: str,
    result: dict[str, Any],
    agents_emails: list[str],
    analysts_pages: list[str | None],
) -> None:
    """Agents beside analysts paging: the analysts start first and end last."""
    print(f"agents beside {args.analysts} analysts paging", flush=True)
    background_load: dict[str, Any] = {}
    background = threading.Thread(
        target=lambda: background_load.update(
            analysts(stack, analysts_pages, args, url, args.duration + 4.0)
        ),
        daemon=True,
    )
    cores = Cores(stack)
    background.start()
    time.sleep(2.0)
    agents_load = agents(stack, agents_emails, args, args.duration)
    background.join()
    measured = cores.measured()
    result["agents_beside_analysts"] = summary(agents_load, measured)
    result["analysts_beside_agents"] = summary(background_load, measured)
    result["fair_share_after_both"] = fair_share_state(client, url)
