"""The sandbox's write endpoints the gateway's mutations use: HubSpot notes with their
association to a contact, Stripe's subscription update with ``Idempotency-Key``, Zendesk's
private comments. Each test gets its own small dataset: these endpoints change it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.data.generate import generate_dataset
from sandbox.server import Sandbox, create_sandbox_app
from tests.sandbox.conftest import make_client

NOTES = "/crm/v3/objects/notes"


def _note(contact_id: str, body: str = "Called about the invoice") -> dict[str, object]:
    return {
        "properties": {"hs_note_body": body, "hs_timestamp": "2026-12-07T00:00:00Z"},
        "associations": [
            {
                "to": {"id": contact_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            }
        ],
    }


@pytest.fixture
def own_starlette() -> Starlette:
    return create_sandbox_app(dataset=generate_dataset(seed=7, customers=20))


@pytest.fixture
def own_app(own_starlette: Starlette) -> Sandbox:
    state = own_starlette.state.sandbox
    assert isinstance(state, Sandbox)
    return state


@pytest.fixture
async def clients(own_starlette: Starlette) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    app = own_starlette
    async with (
        make_client(app, "crm") as crm,
        make_client(app, "billing") as billing,
        make_client(app, "support") as support,
    ):
        yield {"crm": crm, "billing": billing, "support": support}


async def test_a_note_is_created_associated_with_its_contact_and_listed_under_it(
    own_app: Sandbox, clients: dict[str, httpx.AsyncClient]
) -> None:
    crm = clients["crm"]
    contact_id = next(iter(own_app.dataset.crm.contacts)).id

    created = await crm.post(NOTES, json=_note(contact_id))

    assert created.status_code == 201, created.text
    note_id = created.json()["id"]
    listed = await crm.get(f"/crm/v3/objects/contacts/{contact_id}/associations/notes")
    assert [row["id"] for row in listed.json()["results"]] == [note_id]
    read = await crm.get(f"{NOTES}/{note_id}", params={"associations": "contacts"})
    assert read.json()["properties"]["hs_note_body"] == "Called about the invoice"
    assert read.json()["associations"]["contacts"]["results"][0]["id"] == contact_id


async def test_a_note_for_an_unknown_contact_or_without_a_body_is_refused(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    crm = clients["crm"]

    unknown = await crm.post(NOTES, json=_note("999999999"))
    empty = await crm.post(NOTES, json=_note("1", body=""))

    assert unknown.status_code == 404
    assert empty.status_code == 400
    assert empty.json()["category"] == "VALIDATION_ERROR"


async def test_the_same_idempotency_key_and_body_answer_the_first_result_once(
    own_app: Sandbox, clients: dict[str, httpx.AsyncClient]
) -> None:
    billing = clients["billing"]
    subscription = next(s for s in own_app.dataset.billing.subscriptions if s.status != "canceled")
    path = f"/v1/subscriptions/{subscription.id}"
    headers = {"Idempotency-Key": "key-1"}

    first = await billing.post(path, data={"cancel_at_period_end": "true"}, headers=headers)
    again = await billing.post(path, data={"cancel_at_period_end": "true"}, headers=headers)

    assert first.status_code == 200, first.text
    assert first.json()["cancel_at_period_end"] is True
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert own_app.outbox.stats("billing")["emitted"] == 1


async def test_the_same_idempotency_key_with_another_body_is_stripes_idempotency_error(
    own_app: Sandbox, clients: dict[str, httpx.AsyncClient]
) -> None:
    billing = clients["billing"]
    subscription = next(s for s in own_app.dataset.billing.subscriptions if s.status != "canceled")
    path = f"/v1/subscriptions/{subscription.id}"
    headers = {"Idempotency-Key": "key-2"}
    await billing.post(path, data={"cancel_at_period_end": "true"}, headers=headers)

    reused = await billing.post(path, data={"cancel_at_period_end": "false"}, headers=headers)

    assert reused.status_code == 400
    assert reused.json()["error"]["type"] == "idempotency_error"
    assert subscription.cancel_at_period_end is True


async def test_a_private_comment_is_sent_as_not_public(
    own_app: Sandbox, clients: dict[str, httpx.AsyncClient]
) -> None:
    support = clients["support"]
    ticket = next(t for t in own_app.dataset.support.tickets if t.status != "closed")

    answer = await support.put(
        f"/api/v2/tickets/{ticket.id}.json",
        json={"ticket": {"comment": {"body": "internal only", "public": False}}},
    )

    assert answer.status_code == 200, answer.text


async def test_a_ticket_created_twice_with_one_key_is_one_ticket(
    own_app: Sandbox, clients: dict[str, httpx.AsyncClient]
) -> None:
    support = clients["support"]
    requester = next(iter(own_app.dataset.support.users)).id
    body = {"ticket": {"requester_id": requester, "comment": {"body": "It blinks"}}}
    headers = {"Idempotency-Key": "ticket-key-1"}
    before = len(own_app.dataset.support.tickets)

    first = await support.post("/api/v2/tickets.json", json=body, headers=headers)
    again = await support.post("/api/v2/tickets.json", json=body, headers=headers)
    other = await support.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": requester, "comment": {"body": "Other"}}},
        headers=headers,
    )

    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert other.status_code == 400
    assert len(own_app.dataset.support.tickets) == before + 1
