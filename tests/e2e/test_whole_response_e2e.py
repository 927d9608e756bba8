"""The whole-response cache end to end: a repeated view is served again, audited each time,
and never after a record behind it changed (real HTTP, PostgreSQL, the sandbox)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.security.demo_keys import mint_token
from kernel.models import Source
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

VIEW = """query View($email: String!) { customerByEmail(email: $email) {
  id
  profile { name email meta { cache stale ageSeconds } }
  billing { balance { amount } meta { cache stale ageSeconds sourceRecordId } }
  support { openTicketCount meta { cache stale ageSeconds } }
} }"""
TRAIL = """query($id: ID!) { auditTrail(customerId: $id, first: 50) {
  events { kind subject requestId masked fields } } }"""
ADA = "ada.lovelace@example.com"


async def view(stack: Stack, subject: str = "agent-1") -> dict[str, Any]:
    token = mint_token(stack.keys, stack.settings.auth, subject=subject, role="agent")
    response = await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": VIEW, "variables": {"email": ADA}, "operationName": "View"},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    customer: dict[str, Any] = body["data"]["customerByEmail"]
    return customer


async def lookups(stack: Stack, result: str) -> float:
    text = (await stack.http.get(f"{stack.gateway_url}/metrics")).text
    found = re.search(rf'^scv_whole_response_lookups_total{{result="{result}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


async def reads_of(stack: Stack, customer_id: str) -> list[dict[str, Any]]:
    token = mint_token(stack.keys, stack.settings.auth, subject="sup-audit", role="supervisor")
    response = await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": TRAIL, "variables": {"id": customer_id}},
        headers={"Authorization": f"Bearer {token}"},
    )
    events: list[dict[str, Any]] = response.json()["data"]["auditTrail"]["events"]
    return [e for e in events if e["kind"] == "READ" and e["subject"].startswith("agent-")]


async def test_a_repeated_view_is_served_again_audited_as_its_reader_with_meta_true_now(
    clean_sandbox: Stack,
) -> None:
    hits = await lookups(clean_sandbox, "hit")
    first = await view(clean_sandbox, "agent-1")
    again = await view(clean_sandbox, "agent-2")
    assert await lookups(clean_sandbox, "hit") == hits + 1
    assert again["billing"]["balance"] == first["billing"]["balance"]
    assert [again[p]["meta"]["cache"] for p in ("profile", "billing", "support")] == ["HIT"] * 3
    assert again["billing"]["meta"]["ageSeconds"] >= first["billing"]["meta"]["ageSeconds"]
    readers = [e["subject"] for e in await reads_of(clean_sandbox, first["id"])]
    assert readers[:2] == ["agent-2", "agent-1"]  # newest first: the hit is on the trail


async def test_a_record_that_changed_is_never_served_from_the_older_answer(
    clean_sandbox: Stack,
) -> None:
    first = await view(clean_sandbox)
    await clean_sandbox.gateway.state.cache.invalidate_record(
        Source.BILLING, first["billing"]["meta"]["sourceRecordId"]
    )
    invalidated = await lookups(clean_sandbox, "invalidated")
    after = await view(clean_sandbox)
    assert await lookups(clean_sandbox, "invalidated") == invalidated + 1
    assert after["billing"]["meta"]["cache"] == "MISS"  # read again from billing
