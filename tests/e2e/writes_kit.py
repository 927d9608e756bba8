"""Helpers of the writes' end-to-end tests: a claimed call at a chosen verification level,
GraphQL within it, and the sandbox's own view of what was written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.cli.ivr_call import play_ivr_call
from app.security.demo_keys import mint_token
from tests.e2e.harness import Stack

#: How the sandbox IVR verifies a caller to get each level (the default level table).
LEVELS: dict[str, dict[str, Any]] = {
    "LOW": {"auth_method": "VOICE_BIOMETRIC", "auth_score": 0.7},
    "MEDIUM": {"auth_method": "PIN"},
    "HIGH": {"auth_method": "VOICE_BIOMETRIC", "auth_score": 0.95},
}
CRM_HEADERS = {"Authorization": "Bearer pat-sandbox-crm"}
BILLING_HEADERS = {"Authorization": "Bearer sk_test_scv_sandbox"}

CLAIM = """
mutation($c: ID!) {
  claimInteraction(contactId: $c) { token interaction { customer { id } } }
}
"""
PROFILE = """
query($id: ID!) {
  customer(id: $id) { profile { email phone version meta { sourceRecordId } } }
}
"""
ADD_NOTE = """
mutation($id: ID!, $body: String!, $key: String!) {
  addCustomerNote(customerId: $id, body: $body, idempotencyKey: $key) {
    id status reason mutation record { source targetId id }
  }
}
"""
WRITE_STATUS = "query($id: ID!) { writeStatus(id: $id) { id status reason attempts } }"


@dataclass(frozen=True)
class Call:
    """A call claimed by ``agent``: its grant token and the customer it is about."""

    agent: str
    token: str
    customer_id: str


def token_for(stack: Stack, role: str, subject: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=subject, role=role)


async def claimed_call(stack: Stack, customer: str, level: str, agent: str = "agent-w") -> Call:
    """A call from ``customer`` verified at ``level``, handed over and claimed by ``agent``."""
    call = await play_ivr_call(
        stack.http,
        ivr_url=f"{stack.sandbox_url}/ivr",
        gateway_url=stack.gateway_url,
        ivr_token=token_for(stack, "ivr", "ivr-sandbox"),
        call={"customer": customer, **LEVELS[level]},
    )
    assert call.interaction["verification"]["level"] == level
    data = ok(await graphql(stack, CLAIM, agent, c=call.contact_id))["claimInteraction"]
    return Call(agent, data["token"], data["interaction"]["customer"]["id"])


async def graphql(
    stack: Stack,
    document: str,
    subject: str,
    grant: str | None = None,
    *,
    role: str = "agent",
    url: str | None = None,
    **variables: Any,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token_for(stack, role, subject)}"}
    if grant is not None:
        headers["X-Interaction-Token"] = grant
    return await stack.http.post(
        f"{url or stack.gateway_url}/graphql",
        json={"query": document, "variables": variables},
        headers=headers,
    )


async def in_call(stack: Stack, call: Call, document: str, **variables: Any) -> httpx.Response:
    return await graphql(stack, document, call.agent, call.token, **variables)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The one error's extensions of a refused mutation (its data null)."""
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    (error,) = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


async def contact_of(stack: Stack, call: Call) -> dict[str, Any]:
    profile: dict[str, Any] = ok(await in_call(stack, call, PROFILE, id=call.customer_id))[
        "customer"
    ]["profile"]
    return profile


async def notes_of(stack: Stack, contact_id: str) -> list[str]:
    """The bodies of the contact's notes, as the sandbox CRM holds them."""
    base = f"{stack.sandbox_url}/crm/crm/v3/objects"
    listed = await stack.http.get(
        f"{base}/contacts/{contact_id}/associations/notes", headers=CRM_HEADERS
    )
    assert listed.status_code == 200, listed.text
    bodies = []
    for row in listed.json()["results"]:
        note = await stack.http.get(f"{base}/notes/{row['id']}", headers=CRM_HEADERS)
        bodies.append(note.json()["properties"]["hs_note_body"])
    return bodies


async def crm_contact(stack: Stack, contact_id: str) -> dict[str, Any]:
    answer = await stack.http.get(
        f"{stack.sandbox_url}/crm/crm/v3/objects/contacts/{contact_id}",
        params={"properties": "email,phone,city"},
        headers=CRM_HEADERS,
    )
    properties: dict[str, Any] = answer.json()["properties"]
    return properties
