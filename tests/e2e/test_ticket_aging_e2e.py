"""Ticket aging by the sandbox's clock, end to end: tickets opened and changed in the real
support sandbox while its clock is moved on by days reach the gateway as signed webhooks,
and integrationKpis shows them in the right age buckets now and, day by day, in the trend;
answered from PostgreSQL, without a call to the support system."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.cli.environment import with_sandbox_port
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from sandbox.data.generate import generate_dataset
from sandbox.server import create_sandbox_app
from sandbox.webhooks import DeliveryPolicy
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store

pytestmark = pytest.mark.e2e

KPIS = """query($since: DateTime) { integrationKpis(since: $since) {
  backlog { status ageBucket tickets } backlogTrend { day status ageBucket tickets } } }"""
DAY = 86_400


@dataclass(frozen=True)
class AgingStack:
    support: httpx.AsyncClient
    gateway: httpx.AsyncClient
    sandbox_url: str
    requester: int


@pytest.fixture
async def aging(database_url: str, tmp_path: Path) -> AsyncIterator[AgingStack]:
    """A sandbox and a gateway of their own (the test moves the support system's clock),
    the sandbox's webhooks sent to the gateway; no facts refresh: the backlog starts empty."""
    dataset = generate_dataset(seed=42, customers=20)
    with_tickets = {ticket.requester_id for ticket in dataset.support.tickets}
    requester = next(user.id for user in dataset.support.users if user.id not in with_tickets)
    sandbox = create_sandbox_app(
        dataset=dataset,
        webhook_policy=DeliveryPolicy(attempts=5, wait_initial=0.05, wait_max=0.5),
    )
    sandbox_server, sandbox_task, sandbox_port = await serve(sandbox)
    async with scratch_database(database_url, "e2e_aging") as url:
        settings = with_sandbox_port(
            Settings(demo=True, data_dir=tmp_path, database_url=SecretStr(url)), sandbox_port
        )
        await sync_store(settings)
        gateway_server, gateway_task, gateway_port = await serve(create_app(settings))
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        gateway_url = f"http://127.0.0.1:{gateway_port}"
        token = mint_token(
            ensure_demo_keys(tmp_path), settings.auth, subject="op-1", role="operator"
        )
        try:
            async with (
                httpx.AsyncClient(timeout=10.0) as http,
                httpx.AsyncClient(
                    base_url=f"{sandbox_url}/support",
                    headers={"Authorization": "Bearer zd-sandbox-token"},
                    timeout=10.0,
                ) as support,
                httpx.AsyncClient(
                    base_url=gateway_url,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10.0,
                ) as gateway,
            ):
                hooks = await http.post(
                    f"{sandbox_url}/_sandbox/webhooks", json={"url": f"{gateway_url}/webhooks"}
                )
                assert hooks.status_code == 200
                yield AgingStack(support, gateway, sandbox_url, requester)
        finally:
            await stop(gateway_server, gateway_task)
            await stop(sandbox_server, sandbox_task)


async def kpis(stack: AgingStack, since: datetime) -> dict[str, Any]:
    response = await stack.gateway.post(
        "/graphql", json={"query": KPIS, "variables": {"since": since.isoformat()}}
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["integrationKpis"]
    return result


def counts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {(r["status"], r["ageBucket"]): r["tickets"] for r in rows}


def trend(rows: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str], int]]:
    days: dict[str, dict[tuple[str, str], int]] = {}
    for r in rows:
        days.setdefault(r["day"], {})[(r["status"], r["ageBucket"])] = r["tickets"]
    return days


async def until_trend_has(
    stack: AgingStack, since: datetime, day: datetime, expected: dict[tuple[str, str], int]
) -> dict[str, dict[tuple[str, str], int]]:
    """The trend once ``day``'s row is ``expected`` (webhooks arrive in the background)."""
    seen: dict[str, dict[tuple[str, str], int]] = {}
    for _ in range(200):
        seen = trend((await kpis(stack, since))["backlogTrend"])
        if seen.get(day.date().isoformat()) == expected:
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"the trend never showed {expected} on {day.date()}: {seen}")


async def clock(stack: AgingStack, **change: Any) -> None:
    response = await stack.support.post("/_sandbox/clock", json=change)
    assert response.status_code == 200, response.text


async def open_ticket(stack: AgingStack, body: str) -> str:
    created = await stack.support.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": stack.requester, "comment": {"body": body}}},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["ticket"]["id"])


async def set_status(stack: AgingStack, ticket: str, status: str) -> None:
    changed = await stack.support.put(
        f"/api/v2/tickets/{ticket}.json", json={"ticket": {"status": status}}
    )
    assert changed.status_code == 200, changed.text


async def test_tickets_aged_by_the_sandbox_clock_land_in_their_buckets_and_trend(
    aging: AgingStack,
) -> None:
    start = datetime.now(UTC) - timedelta(days=10)
    since = start - timedelta(days=1)
    await clock(aging, at=start.isoformat())

    first = await open_ticket(aging, "Parcel lost")
    await until_trend_has(aging, since, start, {("NEW", "UNDER_1D"): 1})

    await clock(aging, advance_seconds=4 * DAY)
    second = await open_ticket(aging, "Refund please")
    await until_trend_has(
        aging, since, start + timedelta(days=4), {("NEW", "D3_7"): 1, ("NEW", "UNDER_1D"): 1}
    )

    await clock(aging, advance_seconds=5.5 * DAY)
    await set_status(aging, first, "pending")
    await open_ticket(aging, "Wrong size")
    await set_status(aging, second, "solved")
    last_day = start + timedelta(days=9.5)
    days = await until_trend_has(
        aging,
        since,
        last_day,
        {("WAITING_ON_CUSTOMER", "OVER_7D"): 1, ("NEW", "UNDER_1D"): 1},
    )

    # Each day keeps the backlog as that day last saw it, aged by the sandbox's clock.
    assert days == {
        start.date().isoformat(): {("NEW", "UNDER_1D"): 1},
        (start + timedelta(days=4)).date().isoformat(): {
            ("NEW", "D3_7"): 1,
            ("NEW", "UNDER_1D"): 1,
        },
        last_day.date().isoformat(): {
            ("WAITING_ON_CUSTOMER", "OVER_7D"): 1,
            ("NEW", "UNDER_1D"): 1,
        },
    }
    # Now (the real time, half a day past the sandbox's last change): the first ticket is ten
    # days old, the last half a day; the solved one has left the backlog.
    stats = f"{aging.sandbox_url}/support/_sandbox/stats"
    before = (await aging.gateway.get(stats)).json()["requests"]
    now = await kpis(aging, since)
    assert counts(now["backlog"]) == {
        ("WAITING_ON_CUSTOMER", "OVER_7D"): 1,
        ("NEW", "UNDER_1D"): 1,
    }
    # Read from PostgreSQL: answering made no call to the support system.
    assert (await aging.gateway.get(stats)).json()["requests"] == before
