"""Masking and the audit trail end to end: analyst and supervisor tokens, real HTTP, PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.security.demo_keys import mint_token
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

ADA_VIEW = """query($email: String!) { customerByEmail(email: $email) {
  id displayName
  profile { name email phone address { line1 line2 city postalCode country } }
  billing { delinquent paymentCards { brand last4 expMonth expYear } }
  support { openTicketCount }
} }"""

TRAIL = """query($id: ID!) { auditTrail(customerId: $id, first: 50) {
  events { kind subject role outcome fields masked purpose requestId clientAddress }
} }"""

#: Ada's values as the sandbox holds them: none may reach an analyst.
ADA_SECRETS = ("ada.lovelace@example.com", "Lovelace", "7946", "St James", "SW1Y")


async def post(
    stack: Stack, token: str, document: str, headers: dict[str, str] | None = None, **variables: Any
) -> httpx.Response:
    return await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
    )


def token_for(stack: Stack, subject: str, role: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=subject, role=role)


async def trail_of(stack: Stack, customer_id: str) -> list[dict[str, Any]]:
    response = await post(
        stack, token_for(stack, "supervisor-audit", "supervisor"), TRAIL, id=customer_id
    )
    body = response.json()
    assert "errors" not in body, body
    events: list[dict[str, Any]] = body["data"]["auditTrail"]["events"]
    return events


async def test_an_analysts_whole_view_of_ada_is_masked_and_on_the_trail(
    clean_sandbox: Stack,
) -> None:
    response = await post(
        clean_sandbox,
        token_for(clean_sandbox, "analyst-e2e", "analyst"),
        ADA_VIEW,
        email="ada.lovelace@example.com",
    )
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    ada = body["data"]["customerByEmail"]
    assert ada["displayName"] == "Ada L."
    profile = ada["profile"]
    assert (profile["name"], profile["email"], profile["phone"]) == (
        "Ada L.",
        "a***@example.com",
        "+44*******018",
    )
    address = profile["address"]
    assert (address["line1"], address["line2"], address["postalCode"]) == (None, None, None)
    assert (address["city"], address["country"]) != (None, None)
    assert ada["billing"]["paymentCards"] == [
        {"brand": "visa", "last4": "4242", "expMonth": None, "expYear": None}
    ]
    for secret in ADA_SECRETS:
        assert secret not in response.text
    request_id = response.headers["x-request-id"]
    [read] = [e for e in await trail_of(clean_sandbox, ada["id"]) if e["requestId"] == request_id]
    assert (read["kind"], read["subject"], read["role"]) == ("READ", "analyst-e2e", "analyst")
    assert (read["outcome"], read["masked"]) == ("masked", True)
    assert "Profile.email" in read["fields"]
    assert read["clientAddress"] == "127.0.0.1"


async def test_a_supervisor_with_a_purpose_sees_ada_unmasked_and_the_purpose_is_on_the_trail(
    clean_sandbox: Stack,
) -> None:
    response = await post(
        clean_sandbox,
        token_for(clean_sandbox, "supervisor-e2e", "supervisor"),
        ADA_VIEW,
        headers={"X-Purpose": "complaint C-1042 review"},
        email="ada.lovelace@example.com",
    )
    body = response.json()
    assert "errors" not in body, body
    ada = body["data"]["customerByEmail"]
    assert ada["displayName"] == "Ada Lovelace"
    assert ada["profile"]["email"] == "ada.lovelace@example.com"
    assert ada["profile"]["address"]["postalCode"] == "SW1Y 4JH"
    request_id = response.headers["x-request-id"]
    events = [e for e in await trail_of(clean_sandbox, ada["id"]) if e["requestId"] == request_id]
    assert sorted((e["kind"], e["outcome"], e["purpose"]) for e in events) == [
        ("PURPOSE", "stated", "complaint C-1042 review"),
        ("READ", "served", "complaint C-1042 review"),
    ]


async def test_a_purpose_that_is_not_printable_is_refused(clean_sandbox: Stack) -> None:
    response = await post(
        clean_sandbox,
        token_for(clean_sandbox, "supervisor-e2e", "supervisor"),
        ADA_VIEW,
        headers={"X-Purpose": "x" * 201},
        email="ada.lovelace@example.com",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "ada" not in response.text.lower()


async def test_audit_writes_are_in_the_metrics(clean_sandbox: Stack) -> None:
    await post(
        clean_sandbox,
        token_for(clean_sandbox, "analyst-e2e", "analyst"),
        ADA_VIEW,
        email="ada.lovelace@example.com",
    )
    metrics = (await clean_sandbox.http.get(f"{clean_sandbox.gateway_url}/metrics")).text
    assert 'scv_audit_writes_total{outcome="ok"}' in metrics
    assert 'scv_audit_entries_total{kind="READ"}' in metrics
    assert "scv_audit_write_duration_seconds_count" in metrics
