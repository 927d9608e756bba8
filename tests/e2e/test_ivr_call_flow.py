"""The call flow over real HTTP: the sandbox IVR plays a call and hands it over, an agent
claims it and reads Ada's whole view within it, transfers it, and the next agent reads it
with a grant of its own, without the caller being verified again."""

from __future__ import annotations

from typing import Any

import httpx

from app.cli.ivr_call import IvrCall, play_ivr_call
from app.security.demo_keys import mint_token
from tests.e2e.harness import Stack

CLAIM = """
mutation($c: ID!) {
  claimInteraction(contactId: $c) {
    token
    interaction { state agent verification { level method result by } }
  }
}
"""
TRANSFER = """
mutation($c: ID!, $to: ID!) {
  transferInteraction(contactId: $c, toAgent: $to) { state agent verification { level } }
}
"""
VIEW = """
query($c: ID!) {
  interaction(contactId: $c) {
    state
    verification { level }
    customer {
      displayName
      profile { email phone }
      billing { subscriptions { status } }
      support { tickets(first: 5) { subject } }
    }
  }
}
"""


def _token(stack: Stack, role: str, subject: str) -> str:
    return mint_token(stack.keys, stack.settings.auth, subject=subject, role=role)


async def _call(stack: Stack, **call: Any) -> IvrCall:
    return await play_ivr_call(
        stack.http,
        ivr_url=f"{stack.sandbox_url}/ivr",
        gateway_url=stack.gateway_url,
        ivr_token=_token(stack, "ivr", "ivr-sandbox"),
        call=call,
    )


async def _graphql(
    stack: Stack, document: str, agent: str, grant: str | None = None, **variables: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {_token(stack, 'agent', agent)}"}
    if grant is not None:
        headers["X-Interaction-Token"] = grant
    return await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": document, "variables": variables},
        headers=headers,
    )


def _data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data


async def test_ivr_call_hands_ada_over_verified(clean_sandbox: Stack) -> None:
    call = await _call(clean_sandbox, customer="ada")

    assert call.interaction["state"] == "WAITING"
    assert call.interaction["verification"]["level"] == "MEDIUM"
    assert call.interaction["verification"]["method"] == "PIN"


async def test_call_flow_survives_a_transfer_without_reverification(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await _call(stack, customer="ada")

    grant = _data(await _graphql(stack, CLAIM, "agent-1", c=call.contact_id))
    first = grant["claimInteraction"]
    assert first["interaction"]["agent"] == "agent-1"
    view = _data(await _graphql(stack, VIEW, "agent-1", first["token"], c=call.contact_id))
    ada = view["interaction"]["customer"]
    assert ada["displayName"] == "Ada Lovelace"
    assert ada["profile"]["email"] == "ada.lovelace@example.com"
    assert ada["billing"]["subscriptions"]
    assert ada["support"]["tickets"]

    moved = _data(
        await _graphql(stack, TRANSFER, "agent-1", first["token"], c=call.contact_id, to="agent-2")
    )
    assert moved["transferInteraction"]["agent"] == "agent-2"
    assert moved["transferInteraction"]["verification"]["level"] == "MEDIUM"

    stale = await _graphql(stack, VIEW, "agent-1", first["token"], c=call.contact_id)
    assert stale.status_code == 401
    assert stale.json()["errors"][0]["extensions"]["code"] == "INTERACTION_TOKEN_INVALID"

    second = _data(await _graphql(stack, CLAIM, "agent-2", c=call.contact_id))["claimInteraction"]
    assert second["interaction"]["verification"]["level"] == "MEDIUM"
    assert second["interaction"]["verification"]["by"] == "IVR"
    again = _data(await _graphql(stack, VIEW, "agent-2", second["token"], c=call.contact_id))
    assert again["interaction"]["customer"]["profile"]["email"] == "ada.lovelace@example.com"


async def test_handoff_endpoint_refuses_an_agent_token(clean_sandbox: Stack) -> None:
    played = await clean_sandbox.http.post(
        f"{clean_sandbox.sandbox_url}/ivr/_sandbox/calls", json={"customer": "ada"}
    )
    response = await clean_sandbox.http.post(
        f"{clean_sandbox.gateway_url}/ivr/handoffs",
        json={"handoff": played.json()["handoff"]},
        headers={"Authorization": f"Bearer {_token(clean_sandbox, 'agent', 'agent-1')}"},
    )

    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_handoff_endpoint_takes_the_raw_jws(clean_sandbox: Stack) -> None:
    played = await clean_sandbox.http.post(
        f"{clean_sandbox.sandbox_url}/ivr/_sandbox/calls", json={"customer": "grace"}
    )
    response = await clean_sandbox.http.post(
        f"{clean_sandbox.gateway_url}/ivr/handoffs",
        content=played.json()["handoff"],
        headers={
            "Authorization": f"Bearer {_token(clean_sandbox, 'ivr', 'ivr-sandbox')}",
            "Content-Type": "application/jose",
        },
    )

    assert response.status_code == 201, response.text
    assert response.json()["interaction"]["contactId"] == played.json()["contact_id"]


async def test_replayed_handoff_is_refused_with_409(clean_sandbox: Stack) -> None:
    played = await clean_sandbox.http.post(
        f"{clean_sandbox.sandbox_url}/ivr/_sandbox/calls", json={"customer": "ada"}
    )
    headers = {"Authorization": f"Bearer {_token(clean_sandbox, 'ivr', 'ivr-sandbox')}"}
    url = f"{clean_sandbox.gateway_url}/ivr/handoffs"
    body = {"handoff": played.json()["handoff"]}

    first = await clean_sandbox.http.post(url, json=body, headers=headers)
    second = await clean_sandbox.http.post(url, json=body, headers=headers)

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["errors"][0]["extensions"]["code"] == "HANDOFF_REPLAYED"


async def test_interaction_token_with_another_agents_bearer_is_refused(
    clean_sandbox: Stack,
) -> None:
    call = await _call(clean_sandbox, customer="ada")
    grant = _data(await _graphql(clean_sandbox, CLAIM, "agent-1", c=call.contact_id))

    response = await _graphql(
        clean_sandbox, VIEW, "agent-9", grant["claimInteraction"]["token"], c=call.contact_id
    )

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERACTION_TOKEN_INVALID"


async def test_interaction_token_used_as_bearer_is_refused(clean_sandbox: Stack) -> None:
    call = await _call(clean_sandbox, customer="ada")
    grant = _data(await _graphql(clean_sandbox, CLAIM, "agent-1", c=call.contact_id))

    response = await clean_sandbox.query("{ __typename }", token=grant["claimInteraction"]["token"])

    assert response.status_code == 401


async def test_bearer_token_used_as_interaction_token_is_refused(clean_sandbox: Stack) -> None:
    bearer = _token(clean_sandbox, "agent", "agent-1")

    response = await _graphql(clean_sandbox, "{ __typename }", "agent-1", bearer)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "INTERACTION_TOKEN_INVALID"


async def test_handoff_used_as_bearer_is_refused(clean_sandbox: Stack) -> None:
    played = await clean_sandbox.http.post(
        f"{clean_sandbox.sandbox_url}/ivr/_sandbox/calls", json={"customer": "ada"}
    )

    response = await clean_sandbox.query("{ __typename }", token=played.json()["handoff"])

    assert response.status_code == 401


VERIFY = """
mutation($c: ID!, $postcode: String, $born: Date) {
  verifyCaller(contactId: $c, answers: {postcode: $postcode, dateOfBirth: $born}) {
    verification { level method by }
  }
}
"""


async def test_agent_verifies_an_unverified_caller_against_the_crm(clean_sandbox: Stack) -> None:
    call = await _call(clean_sandbox, customer="ada", auth_result="NOT_AUTHENTICATED")
    assert call.interaction["verification"]["level"] == "NONE"
    grant = _data(await _graphql(clean_sandbox, CLAIM, "agent-1", c=call.contact_id))
    token = grant["claimInteraction"]["token"]

    verified = _data(
        await _graphql(
            clean_sandbox, VERIFY, "agent-1", token,
            c=call.contact_id, postcode="sw1y 4jh", born="1815-12-10",
        )
    )  # fmt: skip

    assert verified["verifyCaller"]["verification"] == {
        "level": "MEDIUM",
        "method": "KBA",
        "by": "agent-1",
    }


async def test_handoffs_are_counted_in_metrics(clean_sandbox: Stack) -> None:
    await _call(clean_sandbox, customer="ada")

    metrics = await clean_sandbox.http.get(f"{clean_sandbox.gateway_url}/metrics")

    assert 'scv_interaction_steps_total{outcome="ok",step="handoff"}' in metrics.text


CUSTOMER_OF_CALL = "query($c: ID!) { interaction(contactId: $c) { customer { id } } }"
TRAIL = """
query($id: ID!) { auditTrail(customerId: $id, first: 50) { events { kind outcome subject } } }
"""


async def test_every_step_of_a_call_reaches_the_audit_trail(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await _call(stack, customer="ada")
    grant = _data(await _graphql(stack, CLAIM, "agent-1", c=call.contact_id))
    token = grant["claimInteraction"]["token"]
    await _graphql(stack, TRANSFER, "agent-1", token, c=call.contact_id, to="agent-2")
    found = _data(await _graphql(stack, CUSTOMER_OF_CALL, "agent-2", c=call.contact_id))
    customer_id = found["interaction"]["customer"]["id"]

    trail = await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": TRAIL, "variables": {"id": customer_id}},
        headers={
            "Authorization": f"Bearer {_token(stack, 'supervisor', 'super-1')}",
            "X-Purpose": "audit review of a call",
        },
    )

    steps = {(e["kind"], e["outcome"], e["subject"]) for e in _data(trail)["auditTrail"]["events"]}
    assert {
        ("HANDOFF", "accepted", "ivr-sandbox"),
        ("CLAIM", "claimed", "agent-1"),
        ("TRANSFER", "transferred", "agent-1"),
    } <= steps
