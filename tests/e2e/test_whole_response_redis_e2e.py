"""The whole-response cache in Redis, end to end: two gateways sharing one Redis serve each
other's kept answers, each hit audited as its reader, and an invalidation through one is
honoured by the other (real HTTP, PostgreSQL, the sandbox, Redis)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.security.demo_keys import mint_token
from kernel.models import Source
from tests.e2e.harness import SYSTEMS, Stack, serve, stop
from tests.redis_server import EmbeddedRedis, configured_redis_url, shared_cache

pytestmark = pytest.mark.e2e

VIEW = """query View($email: String!) { customerByEmail(email: $email) {
  id
  profile { name meta { cache stale ageSeconds } }
  billing { balance { amount } meta { cache stale sourceRecordId } }
  support { openTicketCount meta { cache stale } }
} }"""
TRAIL = """query($id: ID!) { auditTrail(customerId: $id, first: 50) {
  events { kind subject requestId } } }"""
ADA = "ada.lovelace@example.com"


@pytest.fixture
def redis_for_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for this test's gateways to share: ``SCV_TEST_REDIS_URL``, or embedded."""
    configured = configured_redis_url()
    if configured is not None:
        yield configured
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("whole-response-redis"))
    yield server.url
    server.stop()


@pytest.fixture
async def two_gateways(
    clean_sandbox: Stack, redis_for_gateways: str
) -> AsyncIterator[list[tuple[Starlette, str]]]:
    """Two gateways on one Redis, the store and the sandbox of the session."""
    shared = shared_cache(redis_for_gateways)
    apps = [create_app(clean_sandbox.settings.model_copy(update={"cache": shared})) for _ in (1, 2)]
    servers = [await serve(app) for app in apps]
    yield [
        (app, f"http://127.0.0.1:{port}") for app, (_, _, port) in zip(apps, servers, strict=True)
    ]
    for server, task, _ in servers:
        await stop(server, task)


async def view(stack: Stack, url: str, subject: str) -> dict[str, Any]:
    token = mint_token(stack.keys, stack.settings.auth, subject=subject, role="agent")
    response = await stack.http.post(
        f"{url}/graphql",
        json={"query": VIEW, "variables": {"email": ADA}, "operationName": "View"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    customer: dict[str, Any] = body["data"]["customerByEmail"]
    return customer


async def lookups(stack: Stack, url: str, result: str) -> float:
    text = (await stack.http.get(f"{url}/metrics")).text
    found = re.search(rf'^scv_whole_response_lookups_total{{result="{result}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def upstream_calls(stack: Stack) -> int:
    total = 0
    for system in SYSTEMS:
        total += sum((await stack.stats(system))["requests"].values())
    return total


async def readers(stack: Stack, customer_id: str) -> list[str]:
    token = mint_token(stack.keys, stack.settings.auth, subject="sup-audit", role="supervisor")
    response = await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": TRAIL, "variables": {"id": customer_id}},
        headers={"Authorization": f"Bearer {token}"},
    )
    events: list[dict[str, Any]] = response.json()["data"]["auditTrail"]["events"]
    return [e["subject"] for e in events if e["kind"] == "READ" and e["subject"].startswith("ag")]


async def test_an_answer_kept_by_one_gateway_is_served_by_the_other_and_audited_there(
    clean_sandbox: Stack, two_gateways: list[tuple[Starlette, str]]
) -> None:
    (_, first_url), (_, second_url) = two_gateways
    built = await view(clean_sandbox, first_url, "agent-one")
    await clean_sandbox.reset_sandbox()
    served = await view(clean_sandbox, second_url, "agent-two")
    assert await lookups(clean_sandbox, second_url, "shared") == 1
    assert await lookups(clean_sandbox, second_url, "hit") == 1
    assert await upstream_calls(clean_sandbox) == 0
    assert served["billing"]["balance"] == built["billing"]["balance"]
    assert served["billing"]["meta"]["cache"] == "HIT"
    # The hit is on the trail as its own reader's, newest first.
    assert (await readers(clean_sandbox, built["id"]))[:2] == ["agent-two", "agent-one"]


async def test_an_invalidation_through_one_gateway_is_honoured_by_the_other(
    clean_sandbox: Stack, two_gateways: list[tuple[Starlette, str]]
) -> None:
    (first, first_url), (second, second_url) = two_gateways
    built = await view(clean_sandbox, first_url, "agent-one")
    await view(clean_sandbox, second_url, "agent-two")  # now kept in the second's process too
    assert await lookups(clean_sandbox, second_url, "shared") == 1
    await first.state.cache.invalidate_record(
        Source.BILLING, built["billing"]["meta"]["sourceRecordId"]
    )
    await second.state.cache.tier.invalidation_arrived.wait()
    after = await view(clean_sandbox, second_url, "agent-two")
    assert await lookups(clean_sandbox, second_url, "invalidated") == 1
    assert after["billing"]["meta"]["cache"] == "MISS"  # executed: billing read again
    assert after["profile"]["meta"]["cache"] == "HIT"
