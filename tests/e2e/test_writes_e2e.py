"""Writes over the real sandbox: idempotent, checked against the version the agent saw,
refused to whoever may not write, and nothing written when refused."""

from __future__ import annotations

import asyncio

from tests.e2e.harness import Stack
from tests.e2e.writes_kit import (
    ADD_NOTE,
    BILLING_HEADERS,
    CRM_HEADERS,
    claimed_call,
    contact_of,
    crm_contact,
    graphql,
    in_call,
    new_key,
    notes_of,
    ok,
    refusal,
)

UPDATE_DETAILS = """
mutation($id: ID!, $input: ContactDetailsInput!, $version: String!, $key: String!) {
  updateContactDetails(
    customerId: $id, input: $input, expectedVersion: $version, idempotencyKey: $key
  ) { id status reason record { source targetId } }
}
"""
CREATE_TICKET = """
mutation($id: ID!, $input: TicketInput!, $key: String!) {
  createTicket(customerId: $id, input: $input, idempotencyKey: $key) {
    id status record { source targetId id }
  }
}
"""
COMMENT = """
mutation($t: ID!, $body: String!, $public: Boolean!, $key: String!) {
  commentOnTicket(ticketId: $t, body: $body, public: $public, idempotencyKey: $key) {
    id status reason
  }
}
"""
CANCEL = """
mutation($s: ID!, $key: String!) {
  cancelSubscriptionAtPeriodEnd(subscriptionId: $s, idempotencyKey: $key) {
    id status reason record { source targetId }
  }
}
"""
SUBSCRIPTIONS = """
query($id: ID!) { customer(id: $id) { billing { subscriptions { id status cancelAtPeriodEnd } } } }
"""


async def test_the_same_note_sent_twice_is_written_once(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")
    contact_id = (await contact_of(stack, call))["meta"]["sourceRecordId"]
    before = await notes_of(stack, contact_id)
    key = new_key()

    first = ok(await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="Rang", key=key))
    again = ok(await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="Rang", key=key))

    note = first["addCustomerNote"]
    assert note["status"] == "APPLIED"
    assert note["record"] == {"source": "CRM", "targetId": contact_id, "id": note["record"]["id"]}
    assert again["addCustomerNote"] == note
    assert await notes_of(stack, contact_id) == [*before, "Rang"]


async def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")
    contact_id = (await contact_of(stack, call))["meta"]["sourceRecordId"]
    key = new_key()
    ok(await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="First", key=key))
    before = await notes_of(stack, contact_id)

    reused = await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="Other", key=key)

    assert refusal(reused)["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await notes_of(stack, contact_id) == before


async def test_a_contact_changed_in_the_crm_after_the_agent_read_it_is_a_conflict(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "grace", "HIGH")
    seen = await contact_of(stack, call)
    contact_id = seen["meta"]["sourceRecordId"]
    # Someone else changes the contact in the CRM itself.
    changed = await stack.http.patch(
        f"{stack.sandbox_url}/crm/crm/v3/objects/contacts/{contact_id}",
        json={"properties": {"city": "Arlington"}},
        headers=CRM_HEADERS,
    )
    assert changed.status_code == 200, changed.text

    answer = await in_call(
        stack,
        call,
        UPDATE_DETAILS,
        id=call.customer_id,
        input={"email": "grace.new@example.com"},
        version=seen["version"],
        key=new_key(),
    )

    conflict = refusal(answer)
    assert conflict["code"] == "CONFLICT"
    assert conflict["current"]["city"] == "Arlington"
    assert conflict["current"]["email"] == seen["email"]
    assert (await crm_contact(stack, contact_id))["email"] == seen["email"]


async def test_contact_details_at_the_version_read_are_written_and_read_back(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "grace", "HIGH")
    seen = await contact_of(stack, call)

    answer = ok(
        await in_call(
            stack,
            call,
            UPDATE_DETAILS,
            id=call.customer_id,
            input={"phone": "(415) 555-0199"},
            version=seen["version"],
            key=new_key(),
        )
    )

    assert answer["updateContactDetails"]["status"] == "APPLIED"
    contact_id = seen["meta"]["sourceRecordId"]
    assert (await crm_contact(stack, contact_id))["phone"] == "+14155550199"
    # The gateway forgot its cached contact: the agent's next read shows the new phone.
    after = await contact_of(stack, call)
    assert after["phone"] == "+14155550199"
    assert after["version"] != seen["version"]


async def test_an_analyst_an_agent_without_the_call_and_one_below_the_level_are_refused(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")
    seen = await contact_of(stack, call)
    contact_id = seen["meta"]["sourceRecordId"]
    notes = await notes_of(stack, contact_id)
    note = {"id": call.customer_id, "body": "Not allowed", "key": new_key()}

    analyst = await graphql(stack, ADD_NOTE, "analyst-1", role="analyst", **note)
    no_call = await graphql(stack, ADD_NOTE, "agent-other", **note)
    below = await in_call(
        stack,
        call,
        UPDATE_DETAILS,
        id=call.customer_id,
        input={"email": "ada.other@example.com"},
        version=seen["version"],
        key=new_key(),
    )

    assert refusal(analyst)["code"] == "FORBIDDEN"
    assert refusal(no_call)["code"] == "FORBIDDEN"
    assert refusal(below) == {"code": "VERIFICATION_REQUIRED", "requiredLevel": "HIGH"}
    assert await notes_of(stack, contact_id) == notes
    assert (await crm_contact(stack, contact_id))["email"] == seen["email"]


async def test_bad_input_names_its_field_and_writes_nothing(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "grace", "HIGH")
    seen = await contact_of(stack, call)
    contact_id = seen["meta"]["sourceRecordId"]
    notes = await notes_of(stack, contact_id)
    contact = await crm_contact(stack, contact_id)

    empty = await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="  ", key=new_key())
    oversized = await in_call(
        stack, call, ADD_NOTE, id=call.customer_id, body="x" * 70_000, key=new_key()
    )
    email = await in_call(
        stack,
        call,
        UPDATE_DETAILS,
        id=call.customer_id,
        input={"email": "not an email"},
        version=seen["version"],
        key=new_key(),
    )
    phone = await in_call(
        stack,
        call,
        UPDATE_DETAILS,
        id=call.customer_id,
        input={"phone": "12"},
        version=seen["version"],
        key=new_key(),
    )
    ticket = await in_call(
        stack, call, COMMENT, t="99999999", body="Hello", public=True, key=new_key()
    )

    assert refusal(empty) == {"code": "BAD_USER_INPUT", "field": "body"}
    assert refusal(oversized) == {"code": "BAD_USER_INPUT", "field": "body"}
    assert refusal(email) == {"code": "BAD_USER_INPUT", "field": "input.email"}
    assert refusal(phone) == {"code": "BAD_USER_INPUT", "field": "input.phone"}
    assert refusal(ticket) == {"code": "BAD_USER_INPUT", "field": "ticketId"}
    assert await notes_of(stack, contact_id) == notes
    assert await crm_contact(stack, contact_id) == contact


async def test_a_ticket_is_opened_and_commented_on_in_support(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "ada", "MEDIUM")

    opened = ok(
        await in_call(
            stack,
            call,
            CREATE_TICKET,
            id=call.customer_id,
            input={"subject": "Router", "body": "It blinks", "priority": "HIGH"},
            key=new_key(),
        )
    )["createTicket"]
    commented = ok(
        await in_call(
            stack,
            call,
            COMMENT,
            t=opened["record"]["id"],
            body="Sent a new one",
            public=False,
            key=new_key(),
        )
    )["commentOnTicket"]

    assert opened["status"] == "APPLIED"
    assert opened["record"]["source"] == "SUPPORT"
    assert commented["status"] == "APPLIED"
    ticket = await stack.http.get(
        f"{stack.sandbox_url}/support/api/v2/tickets/{opened['record']['id']}",
        headers={"Authorization": "Bearer zd-sandbox-token"},
    )
    assert ticket.json()["ticket"]["subject"] == "Router"


async def test_a_cancellation_retried_reaches_billing_once(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "grace", "HIGH")
    billing = ok(await in_call(stack, call, SUBSCRIPTIONS, id=call.customer_id))["customer"]
    subscription = next(
        s for s in billing["billing"]["subscriptions"] if not s["cancelAtPeriodEnd"]
    )
    key = new_key()

    first = ok(await in_call(stack, call, CANCEL, s=subscription["id"], key=key))
    again = ok(await in_call(stack, call, CANCEL, s=subscription["id"], key=key))

    assert first["cancelSubscriptionAtPeriodEnd"]["status"] == "APPLIED"
    assert again == first
    stats = await stack.stats("billing")
    assert stats["requests"].get("POST /v1/subscriptions/{id}") == 1
    read = await stack.http.get(
        f"{stack.sandbox_url}/billing/v1/subscriptions/{subscription['id']}",
        headers=BILLING_HEADERS,
    )
    assert read.json()["cancel_at_period_end"] is True


AUDIT = """
query($id: ID!) {
  auditTrail(customerId: $id, first: 50) { events { kind outcome subject fields detail } }
}
"""


async def test_a_write_is_audited_by_field_never_by_value(clean_sandbox: Stack) -> None:
    stack = clean_sandbox
    call = await claimed_call(stack, "alan", "MEDIUM")
    body = "Caller mentioned secret-word-77"
    ok(await in_call(stack, call, ADD_NOTE, id=call.customer_id, body=body, key=new_key()))
    await graphql(
        stack, ADD_NOTE, "analyst-1", role="analyst", id=call.customer_id, body=body, key=new_key()
    )

    trail = await graphql(stack, AUDIT, "sup-1", role="supervisor", id=call.customer_id)

    events = [e for e in ok(trail)["auditTrail"]["events"] if e["kind"] == "WRITE"]
    outcomes = {(e["subject"], e["outcome"]) for e in events}
    assert {
        ("agent-w", "ACCEPTED"),
        ("agent-w", "APPLIED"),
        ("analyst-1", "REFUSED: FORBIDDEN"),
    } <= outcomes
    assert {tuple(e["fields"]) for e in events if e["subject"] == "agent-w"} == {("body",)}
    assert {e["detail"] for e in events} == {"addCustomerNote"}
    assert "secret-word-77" not in trail.text


async def test_a_writes_webhook_reaches_the_gateway_signed_and_accepted(
    clean_sandbox: Stack,
) -> None:
    stack = clean_sandbox
    target = f"{stack.sandbox_url}/_sandbox/webhooks"
    pointed = await stack.http.post(target, json={"url": f"{stack.gateway_url}/webhooks"})
    assert pointed.status_code == 200, pointed.text
    try:
        call = await claimed_call(stack, "ada", "MEDIUM")
        ok(await in_call(stack, call, ADD_NOTE, id=call.customer_id, body="Hook", key=new_key()))
        deliveries: dict[str, int] = {}
        for _ in range(200):
            deliveries = (await stack.stats("crm"))["webhooks"]
            if deliveries["delivered"] + deliveries["failed"] >= 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await stack.http.post(target, json={"url": None})

    assert deliveries["delivered"] == 1, deliveries
    assert deliveries["failed"] == 0
