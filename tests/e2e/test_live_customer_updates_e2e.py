"""Live changes of a customer end to end: a CRM change reaches her subscribers on either
instance, webhooks out of order never go back in time, a link decision asks for a requery."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import orjson

from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.e2e.live_client import live_client
from tests.e2e.live_kit import ADA_CRM_ID, CUSTOMER_UPDATED, LiveStack, change_ada_in_the_crm


async def test_a_crm_change_of_ada_reaches_her_subscriber_naming_the_crm(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_a, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client, live_stack.gateway_a, CUSTOMER_UPDATED, id=ada
        )
        # A heartbeat, answered before the change it precedes.
        await client.ping()
        await change_ada_in_the_crm(live_stack, firstname="Augusta Ada")

        change = (await client.data(operation))["customerUpdated"]
        # The heartbeat: the ping was answered (before the event, which came after it).
        assert client.pongs == 1

    assert change["customerId"] == ada
    assert change["sources"] == ["CRM"]
    assert "profile" in change["panels"]
    assert change["requery"] is False
    metrics = await live_stack.metrics(live_stack.gateway_a)
    assert 'scv_live_events_fanned_out_total{field="customerUpdated"} 1.0' in metrics
    assert 'scv_live_event_latency_seconds_count{field="customerUpdated"} 1.0' in metrics


async def test_an_event_heard_by_one_instance_reaches_a_subscriber_of_the_other(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client, live_stack.gateway_b, CUSTOMER_UPDATED, id=ada
        )
        await change_ada_in_the_crm(live_stack, firstname="Augusta")

        change = (await client.data(operation))["customerUpdated"]

    assert change["sources"] == ["CRM"]
    # Heard by A (the webhook went there), published by A, fanned out by B.
    assert 'scv_live_events_published_total{kind="customer"} 1.0' in await live_stack.metrics(
        live_stack.gateway_a
    )
    b_metrics = await live_stack.metrics(live_stack.gateway_b)
    assert 'scv_webhook_events_processed_total{source="CRM"}' not in b_metrics
    assert 'scv_live_events_fanned_out_total{field="customerUpdated"} 1.0' in b_metrics


def crm_delivery(event_id: int, at: float, job: str) -> list[dict[str, Any]]:
    return [
        {
            "eventId": event_id,
            "subscriptionId": 1,
            "portalId": 2,
            "appId": 3,
            "occurredAt": int(at * 1000),
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": int(ADA_CRM_ID),
            "propertyName": "jobtitle",
            "propertyValue": job,
            "changeSource": "CRM_UI",
        }
    ]


def vendor_time(at: float) -> datetime:
    """``at`` as HubSpot's ``occurredAt`` carries it: whole milliseconds."""
    return datetime.fromtimestamp(int(at * 1000) / 1000, UTC)


async def post_signed_crm(stack: LiveStack, events: list[dict[str, Any]]) -> dict[str, Any]:
    url = f"{stack.gateway_a}/webhooks/crm"
    body = orjson.dumps(events)
    response = await stack.http.post(
        url,
        content=body,
        headers=signed_headers("crm", DEFAULT_SECRETS["crm"], url, body, time.time()),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_webhooks_delivered_in_reverse_order_never_go_back_in_time(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    now = time.time()
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client, live_stack.gateway_b, CUSTOMER_UPDATED, id=ada
        )
        # The newer change arrives first, the older one after it.
        await post_signed_crm(live_stack, crm_delivery(9002, now - 10, "Countess"))
        await post_signed_crm(live_stack, crm_delivery(9001, now - 20, "Translator"))
        # A third, newest, marks the end: whatever the subscriber gets before it is all
        # that the two others produced.
        await post_signed_crm(live_stack, crm_delivery(9003, now - 5, "Programmer"))

        first = (await client.data(operation))["customerUpdated"]
        second = (await client.data(operation))["customerUpdated"]

    seen = [datetime.fromisoformat(first["at"]), datetime.fromisoformat(second["at"])]
    assert seen == [vendor_time(now - 10), vendor_time(now - 5)]
    metrics = await live_stack.metrics(live_stack.gateway_a)
    assert 'scv_live_events_out_of_order_total{source="CRM"} 1.0' in metrics


UNLINK = """mutation($c: ID!, $s: Source!, $x: ID!, $r: String!) {
  unlinkIdentity(customerId: $c, source: $s, externalId: $x, reason: $r) { id }
}"""


async def test_a_supervisors_link_decision_tells_the_subscriber_to_requery(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await live_stack.subscribed(
            client, live_stack.gateway_b, CUSTOMER_UPDATED, id=ada
        )
        await live_stack.graphql(
            live_stack.gateway_a,
            UNLINK,
            live_stack.token("supervisor", "supervisor-1"),
            c=ada,
            s="SUPPORT",
            x="9001",
            r="not this person (test)",
        )

        change = (await client.data(operation))["customerUpdated"]

    assert change["sources"] == []
    assert change["requery"] is True
    assert "links" in change["panels"]
