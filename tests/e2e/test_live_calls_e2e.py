"""Live calls end to end: incoming calls, an interaction followed until it ends, and what a
subscriber reads of its customer, masked and audited as a query."""

from __future__ import annotations

from app.cli.ivr_call import play_ivr_call
from tests.e2e.live_client import live_client
from tests.e2e.live_kit import LiveStack

INCOMING_CALLS = """subscription {
  incomingCalls { contactId state agent verification { level method } }
}"""
INTERACTION_UPDATED = """subscription($c: ID!) {
  interactionUpdated(contactId: $c) { contactId state agent }
}"""
CLAIM = """mutation($c: ID!) { claimInteraction(contactId: $c) { token interaction { state } } }"""
END = """mutation($c: ID!) { endInteraction(contactId: $c) { state } }"""


async def test_a_handoff_reaches_an_incoming_calls_subscriber_and_its_claim_follows(
    live_stack: LiveStack,
) -> None:
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client, live_stack.gateway_b, INCOMING_CALLS, field="incomingCalls"
        )
        call = await play_ivr_call(
            live_stack.http,
            ivr_url=f"{live_stack.sandbox_url}/ivr",
            gateway_url=live_stack.gateway_a,
            ivr_token=live_stack.token("ivr", "ivr-sandbox"),
            call={"customer": "ada"},
        )

        waiting = (await client.data(operation))["incomingCalls"]
        await live_stack.graphql(live_stack.gateway_a, CLAIM, c=call.contact_id)
        claimed = (await client.data(operation))["incomingCalls"]

    assert waiting["contactId"] == call.contact_id
    assert waiting["state"] == "WAITING"
    assert waiting["verification"] == {"level": "MEDIUM", "method": "PIN"}
    assert claimed["state"] == "ACTIVE"
    assert claimed["agent"] == "agent-1"


async def test_an_interaction_subscription_completes_when_the_call_ends(
    live_stack: LiveStack,
) -> None:
    call = await play_ivr_call(
        live_stack.http,
        ivr_url=f"{live_stack.sandbox_url}/ivr",
        gateway_url=live_stack.gateway_a,
        ivr_token=live_stack.token("ivr", "ivr-sandbox"),
        call={"customer": "ada"},
    )
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client,
            live_stack.gateway_b,
            INTERACTION_UPDATED,
            field="interactionUpdated",
            c=call.contact_id,
        )
        await live_stack.graphql(live_stack.gateway_a, CLAIM, c=call.contact_id)
        await live_stack.graphql(live_stack.gateway_a, END, c=call.contact_id)

        states = [(await client.data(operation))["interactionUpdated"]["state"] for _ in range(2)]
        ended = await client.next(operation)

    assert states == ["ACTIVE", "ENDED"]
    assert ended["type"] == "complete"


CALL_WITH_CUSTOMER = """subscription($c: ID!) {
  interactionUpdated(contactId: $c) { state customer { id displayName } }
}"""
TRAIL = """query($id: ID!) {
  auditTrail(customerId: $id, first: 50) { events { kind outcome subject fields } }
}"""


async def test_what_a_subscriber_reads_of_a_customer_is_masked_and_audited_as_a_query(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    call = await play_ivr_call(
        live_stack.http,
        ivr_url=f"{live_stack.sandbox_url}/ivr",
        gateway_url=live_stack.gateway_a,
        ivr_token=live_stack.token("ivr", "ivr-sandbox"),
        call={"customer": "ada"},
    )
    # Another agent, within no interaction of Ada's: her name is masked for them.
    async with live_client(live_stack.gateway_b, live_stack.token(subject="agent-2")) as client:
        operation = await live_stack.subscribed(
            client,
            live_stack.gateway_b,
            CALL_WITH_CUSTOMER,
            field="interactionUpdated",
            c=call.contact_id,
        )
        await live_stack.graphql(live_stack.gateway_a, CLAIM, c=call.contact_id)

        seen = (await client.data(operation))["interactionUpdated"]

    assert seen["state"] == "ACTIVE"
    assert seen["customer"]["id"] == ada
    assert seen["customer"]["displayName"] == "Ada L."
    trail = await live_stack.graphql(
        live_stack.gateway_a, TRAIL, live_stack.token("supervisor", "supervisor-1"), id=ada
    )
    reads = [
        event
        for event in trail["auditTrail"]["events"]
        if event["kind"] == "READ" and event["subject"] == "agent-2"
    ]
    assert reads == [
        {
            "kind": "READ",
            "outcome": "masked",
            "subject": "agent-2",
            "fields": ["Customer.displayName"],
        }
    ]
