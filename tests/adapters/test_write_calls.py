"""The write calls in the vendors' shapes, at each adapter's HTTP boundary: HubSpot's note
with its association to the contact and its contact PATCH, Zendesk's ticket and private
comment, Stripe's cancellation with ``Idempotency-Key``."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest

from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.settings import SupportSettings
from kernel.errors import UpstreamRejected
from kernel.models import CrmContactId, SubscriptionId, SupportUserId, TicketId
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response

ZENDESK_TICKET = {
    "ticket": {
        "id": 77,
        "requester_id": 9001,
        "subject": "Router",
        "status": "new",
        "created_at": "2024-06-01T12:00:00Z",
        "updated_at": "2024-06-01T12:00:00Z",
    }
}


async def test_a_note_is_posted_with_its_association_to_the_contact() -> None:
    upstream = FakeUpstream.answering(json_response({"id": "555"}, status=201))
    config = CrmSettings(base_url="https://crm.test")
    async with client_for(config, crm_auth_headers(config), upstream) as client:
        adapter = HttpCrmAdapter(config, client, clock=lambda: NOW)
        note_id = await adapter.create_note(
            CrmContactId("1001"), "Rang about the bill", datetime(2026, 12, 7, tzinfo=UTC)
        )

    assert note_id == "555"
    request = upstream.request
    assert (request.method, request.url.path) == ("POST", "/crm/v3/objects/notes")
    assert upstream.body() == {
        "properties": {
            "hs_note_body": "Rang about the bill",
            "hs_timestamp": "2026-12-07T00:00:00Z",
        },
        "associations": [
            {
                "to": {"id": "1001"},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
            }
        ],
    }


async def test_contact_details_are_patched_as_hubspot_properties() -> None:
    upstream = FakeUpstream.answering(json_response({"id": "1001", "properties": {}}))
    config = CrmSettings(base_url="https://crm.test")
    async with client_for(config, crm_auth_headers(config), upstream) as client:
        adapter = HttpCrmAdapter(config, client, clock=lambda: NOW)
        await adapter.update_contact(CrmContactId("1001"), {"email": "a@b.co", "zip": None})

    assert (upstream.request.method, upstream.request.url.path) == (
        "PATCH",
        "/crm/v3/objects/contacts/1001",
    )
    assert upstream.body() == {"properties": {"email": "a@b.co", "zip": None}}


async def test_a_ticket_is_created_with_zendesks_idempotency_key_and_a_private_comment() -> None:
    upstream = FakeUpstream.answering(
        json_response(ZENDESK_TICKET, status=201), json_response(ZENDESK_TICKET)
    )
    config = SupportSettings(base_url="https://support.test")
    async with client_for(config, support_auth_headers(config), upstream) as client:
        adapter = HttpSupportAdapter(config, client, clock=lambda: NOW)
        ticket_id = await adapter.create_ticket(
            SupportUserId("9001"), "Router", "It blinks", "high", "scv-key-1"
        )
        await adapter.comment_on_ticket(TicketId("77"), "Internal", public=False)

    assert ticket_id == "77"
    created, commented = upstream.requests
    assert created.headers["Idempotency-Key"] == "scv-key-1"
    assert upstream.body(0) == {
        "ticket": {
            "requester_id": 9001,
            "subject": "Router",
            "comment": {"body": "It blinks"},
            "priority": "high",
        }
    }
    assert (commented.method, commented.url.path) == ("PUT", "/api/v2/tickets/77.json")
    assert upstream.body(1) == {"ticket": {"comment": {"body": "Internal", "public": False}}}


async def test_a_cancellation_carries_the_idempotency_key_and_a_refusal_is_rejected() -> None:
    refusal = {"error": {"type": "idempotency_error", "message": "Keys for idempotent ..."}}
    upstream = FakeUpstream.answering(
        json_response({"id": "sub_1", "object": "subscription"}), json_response(refusal, 400)
    )
    config = BillingSettings(base_url="https://billing.test")
    async with client_for(config, billing_auth_headers(config), upstream) as client:
        adapter = HttpBillingAdapter(config, client, clock=lambda: NOW)
        await adapter.cancel_subscription_at_period_end(SubscriptionId("sub_1"), "scv-key-2")
        with pytest.raises(UpstreamRejected):
            await adapter.cancel_subscription_at_period_end(SubscriptionId("sub_1"), "scv-key-2")

    first = upstream.requests[0]
    assert (first.method, first.url.path) == ("POST", "/v1/subscriptions/sub_1")
    assert first.headers["Idempotency-Key"] == "scv-key-2"
    # Stripe takes its parameters as a form and reads no JSON body.
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(first.content.decode()) == {"cancel_at_period_end": ["true"]}
