"""The sandbox's write endpoints, and the signed webhooks their changes send.

Each test has its own small dataset (the writes change it). Webhooks go to an in-process
receiver that records them; signatures are checked with the gateway's own verifiers, so the
two sides are known to agree.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from adapters.billing.webhooks import verify_stripe
from adapters.crm.webhooks import verify_hubspot
from adapters.support.webhooks import verify_zendesk
from sandbox.webhooks import DEFAULT_SECRETS
from tests.sandbox.webhooks.sandbox_webhooks_kit import RECEIVER, Drain, Receiver


async def test_updating_a_billing_customer_changes_what_reads_see(
    billing: httpx.AsyncClient, outbox_drained: Drain
) -> None:
    response = await billing.post("/v1/customers/cus_ada", data={"email": "ada@new.example"})

    assert response.status_code == 200
    assert response.json()["email"] == "ada@new.example"
    assert (await billing.get("/v1/customers/cus_ada")).json()["email"] == "ada@new.example"


async def test_a_billing_customer_update_sends_a_signed_customer_updated_event(
    billing: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    await billing.post("/v1/customers/cus_ada", data={"email": "ada@new.example"})
    await outbox_drained()

    (request,) = receiver.requests
    assert str(request.url) == f"{RECEIVER}/billing"
    verify_stripe(
        request.headers["stripe-signature"],
        request.content,
        DEFAULT_SECRETS["billing"],
        now=time.time(),
        tolerance=300,
    )
    (event,) = receiver.payloads()
    assert event["id"].startswith("evt_")
    assert event["type"] == "customer.updated"
    assert event["data"]["object"]["email"] == "ada@new.example"
    assert event["data"]["previous_attributes"] == {"email": "ada.lovelace@example.com"}
    assert abs(event["created"] - time.time()) < 300


async def test_a_billing_customer_update_takes_json_and_nested_address(
    billing: httpx.AsyncClient, outbox_drained: Drain
) -> None:
    response = await billing.post(
        "/v1/customers/cus_ada", json={"phone": "+44 20 7946 0999", "address": {"city": "Bath"}}
    )

    assert response.status_code == 200
    assert response.json()["phone"] == "+44 20 7946 0999"
    assert response.json()["address"]["city"] == "Bath"


async def test_an_unknown_billing_parameter_is_refused_and_changes_nothing(
    billing: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await billing.post(
        "/v1/customers/cus_ada", data={"email": "x@y.example", "colour": "red"}
    )
    await outbox_drained()

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_unknown"
    assert (await billing.get("/v1/customers/cus_ada")).json()["email"] != "x@y.example"
    assert receiver.requests == []


async def test_updating_an_unknown_billing_customer_is_404(billing: httpx.AsyncClient) -> None:
    response = await billing.post("/v1/customers/cus_nobody", data={"name": "x"})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "resource_missing"


async def test_paying_an_open_invoice_sends_invoice_paid_for_its_customer(
    billing: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    invoices = await billing.get(
        "/v1/invoices", params={"customer": "cus_barbara", "status": "open"}
    )
    invoice_id = invoices.json()["data"][0]["id"]

    response = await billing.post(f"/v1/invoices/{invoice_id}/pay")
    await outbox_drained()

    assert response.status_code == 200
    assert response.json()["status"] == "paid"
    assert response.json()["amount_remaining"] == 0
    (event,) = receiver.payloads()
    assert event["type"] == "invoice.paid"
    assert event["data"]["object"]["customer"] == "cus_barbara"


async def test_paying_a_paid_invoice_is_refused_and_sends_nothing(
    billing: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await billing.post("/v1/invoices/in_ada_0001/pay")
    await outbox_drained()

    assert response.status_code == 400
    assert receiver.requests == []


# --- CRM (HubSpot) --------------------------------------------------------------------------


async def test_a_contact_update_sends_a_signed_property_change_per_changed_property(
    crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await crm.patch(
        "/crm/v3/objects/contacts/1001",
        json={"properties": {"email": "ada@new.example", "firstname": "Ada"}},
    )
    await outbox_drained()

    assert response.status_code == 200
    assert response.json()["properties"]["email"] == "ada@new.example"
    (request,) = receiver.requests
    verify_hubspot(
        request.headers["x-hubspot-signature-v3"],
        request.headers["x-hubspot-request-timestamp"],
        method="POST",
        uri=f"{RECEIVER}/crm",
        body=request.content,
        secret=DEFAULT_SECRETS["crm"],
        now=time.time(),
        tolerance=300,
    )
    # firstname was already "Ada": only the email changed.
    (batch,) = receiver.payloads()
    (event,) = batch
    assert event["subscriptionType"] == "contact.propertyChange"
    assert (event["objectId"], event["propertyName"]) == (1001, "email")
    assert event["propertyValue"] == "ada@new.example"
    assert isinstance(event["eventId"], int)


async def test_a_contact_update_changes_lookups_by_email(
    crm: httpx.AsyncClient, outbox_drained: Drain
) -> None:
    await crm.patch(
        "/crm/v3/objects/contacts/1001", json={"properties": {"email": "ada@new.example"}}
    )

    found = await crm.get(
        "/crm/v3/objects/contacts/ada@new.example", params={"idProperty": "email"}
    )
    assert found.json()["id"] == "1001"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"properties": {"favourite_colour": "red"}}, 'Property "favourite_colour" does not exist'),
        ({"properties": {"hs_object_id": "9"}}, 'Property "hs_object_id" is read-only'),
        ({"properties": {"email": 5}}, "Invalid input JSON"),
        ({"props": {}}, "Invalid input JSON"),
    ],
)
async def test_a_bad_contact_update_is_refused_and_sends_nothing(
    crm: httpx.AsyncClient,
    receiver: Receiver,
    outbox_drained: Drain,
    body: dict[str, Any],
    message: str,
) -> None:
    response = await crm.patch("/crm/v3/objects/contacts/1001", json=body)
    await outbox_drained()

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert message in response.json()["message"]
    assert receiver.requests == []


async def test_a_contact_update_that_changes_nothing_sends_nothing(
    crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    await crm.patch(
        "/crm/v3/objects/contacts/1001",
        json={"properties": {"email": "ada.lovelace@example.com"}},
    )
    await outbox_drained()

    assert receiver.requests == []


# --- support (Zendesk) ----------------------------------------------------------------------


async def test_creating_a_ticket_sends_a_signed_ticket_created_event(
    support: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await support.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": 9001, "subject": "Help", "comment": {"body": "Hi"}}},
    )
    await outbox_drained()

    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert (ticket["status"], ticket["requester_id"]) == ("new", 9001)
    (request,) = receiver.requests
    verify_zendesk(
        request.headers["x-zendesk-webhook-signature"],
        request.headers["x-zendesk-webhook-signature-timestamp"],
        request.content,
        DEFAULT_SECRETS["support"],
        now=time.time(),
        tolerance=300,
    )
    (event,) = receiver.payloads()
    assert event["type"] == "zen:event-type:ticket.created"
    assert event["detail"]["id"] == str(ticket["id"])
    assert event["detail"]["requester_id"] == "9001"


async def test_a_created_ticket_is_listed_for_its_requester(
    support: httpx.AsyncClient, outbox_drained: Drain
) -> None:
    created = await support.post(
        "/api/v2/tickets",
        json={"ticket": {"requester_id": 9001, "comment": {"body": "Card lost"}}},
    )

    listed = await support.get("/api/v2/users/9001/tickets/requested")
    assert created.json()["ticket"]["id"] in [t["id"] for t in listed.json()["tickets"]]


async def test_a_ticket_for_an_unknown_requester_is_refused(
    support: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await support.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": 1, "comment": {"body": "Hi"}}},
    )
    await outbox_drained()

    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"
    assert receiver.requests == []


async def test_updating_a_ticket_sends_one_event_per_changed_field(
    support: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    response = await support.put(
        "/api/v2/tickets/70001.json", json={"ticket": {"status": "solved", "priority": "normal"}}
    )
    await outbox_drained()

    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "solved"
    # The priority was already "normal": only the status changed.
    (event,) = receiver.payloads()
    assert event["type"] == "zen:event-type:ticket.status_changed"
    assert event["event"] == {"current": "SOLVED", "previous": "OPEN"}
    assert event["detail"]["requester_id"] == "9001"


async def test_updating_a_ticket_with_a_bad_status_is_refused(support: httpx.AsyncClient) -> None:
    response = await support.put("/api/v2/tickets/70001.json", json={"ticket": {"status": "x"}})

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidValue"


async def test_updating_an_unknown_ticket_is_404(support: httpx.AsyncClient) -> None:
    response = await support.put("/api/v2/tickets/1.json", json={"ticket": {"status": "open"}})

    assert response.status_code == 404
