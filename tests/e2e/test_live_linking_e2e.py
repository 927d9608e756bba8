"""Live linking and link decisions end to end: sandbox over HTTP, real PostgreSQL, the gateway.

A stack of its own (sandbox, PostgreSQL, sync, gateway): these tests create records in the
sandbox and move links, which other tests sharing the session's stack must not see.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.cli.environment import with_sandbox_port
from app.main import create_app
from app.settings import Settings
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import SYSTEMS, role_tokens, serve, stop, sync_store
from tests.e2e.resilience_harness import for_shared_stack

pytestmark = pytest.mark.e2e

CRM_TOKEN = "pat-sandbox-crm"
CUSTOMER = """
fragment Found on Customer {
  id displayName
  links { source externalId matchedBy confidence linkedVia linkedAt }
}
"""
BY_EMAIL = CUSTOMER + "query($e: String!) { customerByEmail(email: $e) { ...Found } }"
BY_PHONE = CUSTOMER + "query($p: String!) { customerByPhone(phone: $p) { ...Found } }"
BY_SOURCE_ID = (
    CUSTOMER
    + "query($s: Source!, $id: ID!) { customerBySourceId(source: $s, id: $id) { ...Found } }"
)
LINK = (
    CUSTOMER
    + """mutation($c: ID!, $s: Source!, $x: ID!, $r: String!) {
  linkIdentity(customerId: $c, source: $s, externalId: $x, reason: $r) { ...Found }
}"""
)
UNLINK = (
    CUSTOMER
    + """mutation($c: ID!, $s: Source!, $x: ID!, $r: String!) {
  unlinkIdentity(customerId: $c, source: $s, externalId: $x, reason: $r) { ...Found }
}"""
)


@dataclass(frozen=True)
class LiveStack:
    gateway_url: str
    sandbox_url: str
    http: httpx.AsyncClient
    tokens: dict[str, str]

    async def post(self, role: str, document: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.gateway_url}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, role: str, document: str, **variables: Any) -> dict[str, Any]:
        body = await self.post(role, document, **variables)
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def create_crm_contact(self, **properties: str) -> str:
        response = await self.http.post(
            f"{self.sandbox_url}/crm/crm/v3/objects/contacts",
            json={"properties": properties},
            headers={"Authorization": f"Bearer {CRM_TOKEN}"},
        )
        assert response.status_code == 201, response.text
        contact_id: str = response.json()["id"]
        return contact_id

    async def requests(self, system: str) -> dict[str, int]:
        response = await self.http.get(f"{self.sandbox_url}/{system}/_sandbox/stats")
        counts: dict[str, int] = response.json()["requests"]
        return counts

    async def reset_counts(self) -> None:
        for system in SYSTEMS:
            await self.http.delete(f"{self.sandbox_url}/{system}/_sandbox/stats")


@pytest.fixture(scope="module")
async def live(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(seed=7, customers=20)
    )
    data_dir: Path = tmp_path_factory.mktemp("scv-live")
    async with scratch_database(database_url, "e2e_live") as url:
        settings = for_shared_stack(
            with_sandbox_port(
                Settings(demo=True, data_dir=data_dir, database_url=SecretStr(url)), sandbox_port
            )
        )
        await sync_store(settings)
        gateway_server, gateway_task, gateway_port = await serve(create_app(settings))
        tokens = role_tokens(data_dir, settings, ("agent", "supervisor", "ivr", "analyst"))
        async with httpx.AsyncClient(timeout=10.0) as http:
            yield LiveStack(
                f"http://127.0.0.1:{gateway_port}",
                f"http://127.0.0.1:{sandbox_port}",
                http,
                tokens,
            )
        await stop(gateway_server, gateway_task)
    await stop(sandbox_server, sandbox_task)


def unique_email() -> str:
    return f"live.{secrets.token_hex(4)}@example.com"


# --- live linking --------------------------------------------------------------------------


async def test_a_contact_created_after_the_sync_is_found_on_the_first_lookup(
    live: LiveStack,
) -> None:
    email = unique_email()
    contact_id = await live.create_crm_contact(firstname="Nia", lastname="New", email=email)

    found = (await live.data("agent", BY_EMAIL, e=email.upper()))["customerByEmail"]

    assert found is not None
    [link] = found["links"]
    assert (link["source"], link["externalId"], link["matchedBy"], link["linkedVia"]) == (
        "CRM",
        contact_id,
        "anchor",
        "live",
    )
    assert link["confidence"] == 1.0


NEWEST_CUSTOMERS = """{ customers(first: 5, orderBy: {field: CREATED_AT, direction: DESC}) {
  edges { node { id facts { linkedSources } } } } }"""


async def test_a_live_linked_customer_is_listed_for_analysts_at_once(live: LiveStack) -> None:
    contact_id = await live.create_crm_contact(firstname="Lia", email=unique_email())
    found = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=contact_id))["customerBySourceId"]

    edges = (await live.data("analyst", NEWEST_CUSTOMERS))["customers"]["edges"]

    listed = {edge["node"]["id"]: edge["node"]["facts"] for edge in edges}
    assert listed[found["id"]] == {"linkedSources": ["CRM"]}


async def test_a_live_link_is_found_in_the_store_afterwards(live: LiveStack) -> None:
    email = unique_email()
    contact_id = await live.create_crm_contact(firstname="Ola", email=email, phone="+14155550177")
    first = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=contact_id))["customerBySourceId"]
    await live.reset_counts()

    again = (await live.data("agent", BY_PHONE, p="(415) 555-0177"))["customerByPhone"]

    assert again["id"] == first["id"]
    assert await live.requests("crm") == {}


async def test_a_miss_is_not_searched_again_within_its_window(live: LiveStack) -> None:
    email = unique_email()
    await live.reset_counts()

    for _ in range(3):
        assert (await live.data("agent", BY_EMAIL, e=email))["customerByEmail"] is None

    assert await live.requests("crm") == {"POST /crm/v3/objects/contacts/search": 1}
    assert await live.requests("billing") == {"GET /v1/customers/search": 1}
    assert await live.requests("support") == {"GET /api/v2/users/search": 1}


# --- people's decisions --------------------------------------------------------------------


async def test_a_supervisor_links_a_duplicate_and_unlinks_it_again(live: LiveStack) -> None:
    email = unique_email()
    first_id = await live.create_crm_contact(firstname="Dee", lastname="Double", email=email)
    second_id = await live.create_crm_contact(firstname="Dee", lastname="Double")
    first = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=first_id))["customerBySourceId"]
    await live.data("agent", BY_SOURCE_ID, s="CRM", id=second_id)

    linked = (
        await live.data("supervisor", LINK, c=first["id"], s="CRM", x=second_id, r="same person")
    )["linkIdentity"]
    unlinked = (
        await live.data(
            "supervisor", UNLINK, c=first["id"], s="CRM", x=second_id, r="not after all"
        )
    )["unlinkIdentity"]

    assert {(link["externalId"], link["matchedBy"]) for link in linked["links"]} == {
        (first_id, "anchor"),
        (second_id, "manual"),
    }
    assert [link["externalId"] for link in unlinked["links"]] == [first_id]
    own = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=second_id))["customerBySourceId"]
    assert own["id"] != first["id"]


async def test_an_agent_may_not_change_links_and_nothing_changes(live: LiveStack) -> None:
    email = unique_email()
    first_id = await live.create_crm_contact(firstname="Fay", email=email)
    second_id = await live.create_crm_contact(firstname="Fay")
    first = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=first_id))["customerBySourceId"]
    second = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=second_id))["customerBySourceId"]

    body = await live.post("agent", LINK, c=first["id"], s="CRM", x=second_id, r="same")

    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    after = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=second_id))["customerBySourceId"]
    assert after["id"] == second["id"]


async def test_an_empty_reason_is_bad_user_input(live: LiveStack) -> None:
    contact_id = await live.create_crm_contact(firstname="Gus", email=unique_email())
    customer = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=contact_id))[
        "customerBySourceId"
    ]

    body = await live.post("supervisor", UNLINK, c=customer["id"], s="CRM", x=contact_id, r=" ")

    assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]


async def test_a_system_failing_a_live_search_is_an_error_for_that_field_not_a_500(
    live: LiveStack,
) -> None:
    email = unique_email()
    response = await live.http.post(
        f"{live.sandbox_url}/support/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503}
    )
    assert response.status_code == 200, response.text
    try:
        body = await live.post("agent", BY_EMAIL, e=email)
        await live.http.delete(f"{live.sandbox_url}/support/_sandbox/faults")
        await live.reset_counts()
        # Not remembered as a miss: the next lookup searches again.
        await live.data("agent", BY_EMAIL, e=email)
    finally:
        await live.http.delete(f"{live.sandbox_url}/support/_sandbox/faults")

    assert body["data"] == {"customerByEmail": None}
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["sources"]) == (
        "UPSTREAM_UNAVAILABLE",
        ["SUPPORT"],
    )
    assert await live.requests("support") == {"GET /api/v2/users/search": 1}


# --- the IVR hands over a caller the store does not know yet -------------------------------


async def test_a_handoff_for_a_caller_who_just_signed_up_is_accepted(live: LiveStack) -> None:
    phone = "+14155550188"
    contact_id = await live.create_crm_contact(
        firstname="Ines", lastname="Incoming", email=unique_email(), phone=phone
    )
    played = await live.http.post(f"{live.sandbox_url}/ivr/_sandbox/calls", json={"phone": phone})
    assert played.status_code == 201, played.text

    response = await live.http.post(
        f"{live.gateway_url}/ivr/handoffs",
        json={"handoff": played.json()["handoff"]},
        headers={"Authorization": f"Bearer {live.tokens['ivr']}"},
    )

    assert response.status_code == 201, response.text
    contact = response.json()["interaction"]["contactId"]
    handed_over = await live.data(
        "agent", "query($c: ID!) { interaction(contactId: $c) { customer { id } } }", c=contact
    )
    found = (await live.data("agent", BY_SOURCE_ID, s="CRM", id=contact_id))["customerBySourceId"]
    assert handed_over["interaction"]["customer"]["id"] == found["id"]
    assert [link["linkedVia"] for link in found["links"]] == ["live"]


async def test_a_handoff_for_a_number_nobody_has_is_refused_as_unknown(live: LiveStack) -> None:
    played = await live.http.post(
        f"{live.sandbox_url}/ivr/_sandbox/calls", json={"phone": "+14155550999"}
    )
    assert played.status_code == 201, played.text

    response = await live.http.post(
        f"{live.gateway_url}/ivr/handoffs",
        json={"handoff": played.json()["handoff"]},
        headers={"Authorization": f"Bearer {live.tokens['ivr']}"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "HANDOFF_CUSTOMER_UNKNOWN"
