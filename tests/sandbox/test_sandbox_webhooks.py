"""The sandbox's write endpoints, and the signed webhooks their changes send.

Each test has its own small dataset (the writes change it). Webhooks go to an in-process
receiver (``httpx.MockTransport``) that records them; signatures are checked with the
gateway's own verifiers, so the two sides are known to agree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from adapters.billing.webhooks import verify_stripe
from adapters.crm.webhooks import verify_hubspot
from adapters.support.webhooks import verify_zendesk
from sandbox.data.generate import generate_dataset
from sandbox.server import Sandbox, create_sandbox_app
from sandbox.webhooks import DEFAULT_SECRETS, DeliveryPolicy

RECEIVER = "http://receiver.test/webhooks"
FAST = DeliveryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, attempt_timeout=5.0)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Receiver:
    """Records the webhooks it is sent; answers each with the next status of ``statuses``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []
        self.release: asyncio.Event | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.release is not None:
            await self.release.wait()
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)

    def payloads(self) -> list[Any]:
        return [orjson.loads(request.content) for request in self.requests]


@pytest.fixture
def app() -> Starlette:
    """A sandbox of its own (named customers only): these tests change its data."""
    return create_sandbox_app(
        dataset=generate_dataset(seed=42, customers=0),
        webhook_url=RECEIVER,
        webhook_policy=FAST,
    )


@pytest.fixture
def receiver(app: Starlette) -> Receiver:
    receiver = Receiver()
    sandbox: Sandbox = app.state.sandbox
    sandbox.outbox.transport = httpx.MockTransport(receiver.handle)
    return receiver


@pytest.fixture
async def outbox_drained(app: Starlette) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    sandbox: Sandbox = app.state.sandbox
    yield sandbox.outbox.drain
    await sandbox.outbox.aclose()


# billing, crm and support clients come from tests/sandbox/conftest.py, over this app.


Drain = Callable[[], Awaitable[None]]


# --- billing (Stripe) -----------------------------------------------------------------------


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


# --- delivery -------------------------------------------------------------------------------


async def test_the_write_answers_before_the_webhook_is_delivered(
    crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    receiver.release = asyncio.Event()

    response = await crm.patch(
        "/crm/v3/objects/contacts/1001", json={"properties": {"phone": "+44 20 7946 0999"}}
    )

    assert response.status_code == 200
    assert receiver.requests == []
    receiver.release.set()
    await outbox_drained()
    assert len(receiver.requests) == 1


async def test_a_refused_webhook_is_retried_until_accepted(
    crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    receiver.statuses = [500, 503, 200]

    await crm.patch("/crm/v3/objects/contacts/1001", json={"properties": {"city": "Bath"}})
    await outbox_drained()

    stats = (await crm.get("/_sandbox/stats")).json()["webhooks"]
    assert stats == {"emitted": 1, "dropped": 0, "attempts": 3, "delivered": 1, "failed": 0}
    bodies = {request.content for request in receiver.requests}
    assert len(bodies) == 1


async def test_a_webhook_is_given_up_after_the_last_attempt(
    crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    receiver.statuses = [500] * FAST.attempts

    await crm.patch("/crm/v3/objects/contacts/1001", json={"properties": {"city": "Bath"}})
    await outbox_drained()

    stats = (await crm.get("/_sandbox/stats")).json()["webhooks"]
    assert (stats["attempts"], stats["delivered"], stats["failed"]) == (FAST.attempts, 0, 1)


async def test_without_a_target_webhooks_are_counted_as_dropped(
    crm: httpx.AsyncClient, app: Starlette, receiver: Receiver, outbox_drained: Drain
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as root:
        await root.post("/_sandbox/webhooks", json={"url": None})

    await crm.patch("/crm/v3/objects/contacts/1001", json={"properties": {"city": "Bath"}})
    await outbox_drained()

    assert receiver.requests == []
    stats = (await crm.get("/_sandbox/stats")).json()["webhooks"]
    assert (stats["emitted"], stats["dropped"]) == (1, 1)


# --- /_sandbox/webhooks ---------------------------------------------------------------------


@pytest.fixture
async def root(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test"
    ) as client:
        yield client


async def test_the_webhook_target_can_be_set_at_run_time(root: httpx.AsyncClient) -> None:
    response = await root.post(
        "/_sandbox/webhooks",
        json={"url": "http://127.0.0.1:9/hooks", "secrets": {"crm": "s3cret-xyz"}},
    )

    assert response.status_code == 200
    shown = (await root.get("/_sandbox/webhooks")).json()
    assert shown["systems"]["crm"]["target"] == "http://127.0.0.1:9/hooks/crm"
    assert "s3cret-xyz" not in (await root.get("/_sandbox/webhooks")).text


async def test_new_secrets_sign_the_next_webhooks(
    root: httpx.AsyncClient, crm: httpx.AsyncClient, receiver: Receiver, outbox_drained: Drain
) -> None:
    await root.post("/_sandbox/webhooks", json={"url": RECEIVER, "secrets": {"crm": "rotated"}})

    await crm.patch("/crm/v3/objects/contacts/1001", json={"properties": {"city": "Bath"}})
    await outbox_drained()

    (request,) = receiver.requests
    verify_hubspot(
        request.headers["x-hubspot-signature-v3"],
        request.headers["x-hubspot-request-timestamp"],
        method="POST",
        uri=f"{RECEIVER}/crm",
        body=request.content,
        secret="rotated",
        now=time.time(),
        tolerance=300,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://x"},
        {"url": "http://x", "colour": "red"},
        {"url": "http://x", "secrets": {"ivr": "s"}},
        {},
    ],
)
async def test_a_bad_webhook_target_is_refused(
    root: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await root.post("/_sandbox/webhooks", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid webhook target"
    assert (await root.get("/_sandbox/webhooks")).json()["url"] == RECEIVER
