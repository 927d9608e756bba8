"""The stack of deploy/compose.yaml through its load balancer: the first query, the IVR call
flow, and one gateway replica stopped (gracefully, SIGTERM) while requests keep coming.

The stop test sends the first query from several clients at once, stops ``gateway-1`` with
the compose tool (SIGTERM, then the grace period) part-way, and counts the requests sent and
those that failed: with a graceful stop, none may fail. The figures are printed in the
closing summary and written to ``deploy/.state/replica-stop.json``. A partial answer (the
customer served, a system's panel failed with its ``UPSTREAM_`` code, as a slow sandbox on a
busy machine may cause) is no failed request: it is counted apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.cli.ivr_call import play_ivr_call
from app.demo.runner import DEMO_CUSTOMER_EMAIL, WHOLE_VIEW_QUERY
from app.interactions.settings import HandoffSettings
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from tests.deploy.live.figures import FIGURES

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
LB = f"http://127.0.0.1:{os.environ.get('STACK_LB_PORT', '8080')}"
IVR = f"http://127.0.0.1:{os.environ.get('STACK_SANDBOX_PORT', '8100')}/ivr"
KEYS = DEPLOY / ".state" / "keys"

#: Clients sending at once, and the bounds of the load: it ends this long after the stop
#: returned, and never runs longer or sends more than this in all.
CLIENTS = 8
AFTER_STOP_SECONDS = 3.0
MAX_SECONDS = 90.0
MAX_REQUESTS = 50_000
#: Agents whose tokens the load takes in turn: each agent's cost budget per minute
#: (SCV_LIMITS__BUDGET_PER_MINUTE) allows some 200 whole views, and a real desk is many agents.
AGENTS = 500


def token(role: str, subject: str) -> str:
    return mint_token(ensure_demo_keys(KEYS), AuthSettings(), subject=subject, role=role)


def compose(*args: str) -> list[str]:
    if os.environ.get("STACK_ENGINE", "podman") == "docker":
        tool = ["docker", "compose"]
    else:
        tool = [str(ROOT / ".venv" / "bin" / "podman-compose")]
    return [*tool, "-f", str(DEPLOY / "compose.yaml"), *args]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


async def whole_view(
    http: httpx.AsyncClient, bearer: str, interaction: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {bearer}"}
    if interaction is not None:
        headers["X-Interaction-Token"] = interaction
    return await http.post(
        f"{LB}/graphql",
        json={"query": WHOLE_VIEW_QUERY, "variables": {"email": DEMO_CUSTOMER_EMAIL}},
        headers=headers,
    )


async def test_the_first_query_through_the_load_balancer(http: httpx.AsyncClient) -> None:
    response = await whole_view(http, token("agent", "agent-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    customer = body["data"]["customerByEmail"]
    # No call for Ada: her personal fields are masked; every panel is there.
    assert customer["displayName"] == "Ada L."
    assert {link["source"] for link in customer["links"]} >= {"BILLING", "CRM", "SUPPORT"}
    assert customer["billing"]["meta"]["source"] == "BILLING"
    assert customer["support"]["openTicketCount"] >= 1


async def test_the_ivr_call_flow_through_the_load_balancer(http: httpx.AsyncClient) -> None:
    call = {
        "customer": "ada",
        "auth_method": "PIN",
        "auth_result": "AUTHENTICATED",
        "auth_score": 0.97,
        "audience": HandoffSettings().audience,
    }
    played = await play_ivr_call(
        http, ivr_url=IVR, gateway_url=LB, ivr_token=token("ivr", "ivr-sandbox"), call=call
    )
    agent = token("agent", "agent-7")
    claim = await http.post(
        f"{LB}/graphql",
        json={
            "query": "mutation($c: ID!) { claimInteraction(contactId: $c) { token "
            "interaction { state verification { level method } } } }",
            "variables": {"c": played.contact_id},
        },
        headers={"Authorization": f"Bearer {agent}"},
    )
    assert claim.status_code == 200, claim.text
    grant = claim.json()["data"]["claimInteraction"]
    assert grant["interaction"]["verification"]["method"] == "PIN"
    # The claim went to one replica, the query may go to the other: both read the store.
    for _ in range(2):
        response = await whole_view(http, agent, grant["token"])
        customer = response.json()["data"]["customerByEmail"]
        assert customer["displayName"] == "Ada Lovelace"
        assert customer["profile"]["email"] == DEMO_CUSTOMER_EMAIL


@dataclass
class LoadFigures:
    """What the load saw, as reported: requests sent, failed, and when the stop came."""

    clients: int = CLIENTS
    sent: int = 0
    failed: int = 0
    sent_after_stop_began: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    partial: int = 0
    partial_codes: dict[str, int] = field(default_factory=dict)
    stop_seconds: float = 0.0
    load_seconds: float = 0.0

    def fail(self, reason: str) -> None:
        self.failed += 1
        self.failures[reason] = self.failures.get(reason, 0) + 1

    def answered(self, body: dict[str, Any], replica: str) -> None:
        """A 200: failed unless the customer is there; a system's panel that failed (its
        code ``UPSTREAM_...``, the rest of the view served) is a partial answer, counted."""
        errors = body.get("errors", [])
        codes = sorted({e["extensions"]["code"] for e in errors})
        customer = (body.get("data") or {}).get("customerByEmail")
        if customer is None:
            self.fail(",".join(codes) or "no customer")
        elif codes:
            if not all(code.startswith("UPSTREAM_") for code in codes):
                self.fail(",".join(codes))
            else:
                self.partial += 1
                for error in errors:
                    extensions = error["extensions"]
                    key = f"{extensions['code']} {extensions.get('source', '')} from {replica}"
                    self.partial_codes[key] = self.partial_codes.get(key, 0) + 1


async def test_a_gateway_replica_stopped_under_load_fails_no_request(
    http: httpx.AsyncClient,
) -> None:
    bearers = [token("agent", f"agent-load-{n}") for n in range(AGENTS)]
    figures = LoadFigures()
    stopping = asyncio.Event()
    done = asyncio.Event()

    async def client() -> None:
        while not done.is_set() and figures.sent < MAX_REQUESTS:
            bearer = bearers[figures.sent % AGENTS]
            figures.sent += 1
            if stopping.is_set():
                figures.sent_after_stop_began += 1
            try:
                response = await whole_view(http, bearer)
            except httpx.TransportError as exc:
                figures.fail(type(exc).__name__)
                continue
            if response.status_code != 200:
                figures.fail(f"HTTP {response.status_code}")
            else:
                figures.answered(response.json(), response.headers.get("x-served-by", "?"))

    async def stop_one_replica() -> None:
        await asyncio.sleep(2.0)
        stopping.set()
        began = time.monotonic()
        stopped = await asyncio.to_thread(
            subprocess.run, compose("stop", "gateway-1"), capture_output=True, check=False
        )
        figures.stop_seconds = round(time.monotonic() - began, 2)
        assert stopped.returncode == 0, stopped.stderr.decode(errors="replace")
        await asyncio.sleep(AFTER_STOP_SECONDS)
        done.set()

    started = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(stop_one_replica(), *(client() for _ in range(CLIENTS))),
            timeout=MAX_SECONDS,
        )
    finally:
        done.set()
        figures.load_seconds = round(time.monotonic() - started, 2)
        report = json.dumps(asdict(figures), indent=2)
        (DEPLOY / ".state" / "replica-stop.json").write_text(report + "\n")
        failed = f"failed: {figures.failed} {figures.failures or ''}".rstrip()
        partial = f"{figures.partial} {figures.partial_codes or ''}".rstrip()
        FIGURES.append(
            f"{figures.sent} requests sent by {figures.clients} clients over "
            f"{figures.load_seconds} s through the load balancer, "
            f"{figures.sent_after_stop_began} of them after `stop gateway-1` began "
            f"(the stop took {figures.stop_seconds} s); {failed}; partial answers "
            f"(a system's panel failed, the rest served): {partial}"
        )
    assert figures.sent_after_stop_began > 0
    assert figures.failed == 0, figures.failures
    # The other replica still serves.
    assert (await whole_view(http, bearers[0])).status_code == 200
