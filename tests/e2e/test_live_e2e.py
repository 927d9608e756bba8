"""Live changes end to end: the sandbox's systems, one PostgreSQL, two gateway instances
over loopback, and subscribers on real WebSockets (graphql-transport-ws).

The sandbox sends its signed webhooks to gateway A; subscribers connect to A or to B. An
event heard by A reaches B's subscribers only through PostgreSQL's LISTEN/NOTIFY: the two
apps share nothing else but the database.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from app.cli.commands import with_sandbox_port
from app.cli.ivr_call import play_ivr_call
from app.main import create_app
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.settings import Settings
from sandbox.server import create_sandbox_app
from sandbox.webhooks import DEFAULT_SECRETS, DeliveryPolicy, signed_headers
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store
from tests.e2e.live_client import Closed, live_client

ADA_EMAIL = "ada.lovelace@example.com"
ADA_CRM_ID = "1001"

CUSTOMER_UPDATED = """subscription($id: ID!) {
  customerUpdated(customerId: $id) { customerId sources panels at requery }
}"""
INCOMING_CALLS = """subscription {
  incomingCalls { contactId state agent verification { level method } }
}"""
INTERACTION_UPDATED = """subscription($c: ID!) {
  interactionUpdated(contactId: $c) { contactId state agent }
}"""
CLAIM = """mutation($c: ID!) { claimInteraction(contactId: $c) { token interaction { state } } }"""
END = """mutation($c: ID!) { endInteraction(contactId: $c) { state } }"""


@dataclass(frozen=True)
class LiveStack:
    sandbox_url: str
    #: The instance the sandbox's webhooks go to.
    gateway_a: str
    #: Another instance over the same database.
    gateway_b: str
    settings: Settings
    keys: DemoKeys
    http: httpx.AsyncClient

    def token(self, role: str = "agent", subject: str = "agent-1", ttl: int = 3600) -> str:
        return mint_token(
            self.keys, self.settings.auth, subject=subject, role=role, ttl_seconds=ttl
        )

    async def graphql(
        self, gateway: str, document: str, token: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        response = await self.http.post(
            f"{gateway}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.token()}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def ada_id(self) -> str:
        data = await self.graphql(
            self.gateway_a,
            "query($e: String!) { customerByEmail(email: $e) { id } }",
            e=ADA_EMAIL,
        )
        customer_id: str = data["customerByEmail"]["id"]
        return customer_id

    async def metrics(self, gateway: str) -> str:
        return (await self.http.get(f"{gateway}/metrics")).text


@pytest.fixture
async def live_stack(database_url: str, tmp_path: Path) -> AsyncIterator[LiveStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(
            seed=42,
            customers=0,
            webhook_policy=DeliveryPolicy(attempts=5, wait_initial=0.05, wait_max=0.5),
        )
    )
    async with scratch_database(database_url, "e2e_live") as url:
        settings = with_sandbox_port(
            Settings(demo=True, data_dir=tmp_path, database_url=SecretStr(url)), sandbox_port
        )
        await sync_store(settings)
        server_a, task_a, port_a = await serve(create_app(settings))
        server_b, task_b, port_b = await serve(create_app(settings))
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                stack = LiveStack(
                    sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                    gateway_a=f"http://127.0.0.1:{port_a}",
                    gateway_b=f"http://127.0.0.1:{port_b}",
                    settings=settings,
                    keys=ensure_demo_keys(tmp_path),
                    http=http,
                )
                hooks = await http.post(
                    f"{stack.sandbox_url}/_sandbox/webhooks",
                    json={"url": f"{stack.gateway_a}/webhooks"},
                )
                assert hooks.status_code == 200
                yield stack
        finally:
            await stop(server_b, task_b)
            await stop(server_a, task_a)
            await stop(sandbox_server, sandbox_task)


async def change_ada_in_the_crm(stack: LiveStack, **properties: str) -> None:
    changed = await stack.http.patch(
        f"{stack.sandbox_url}/crm/crm/v3/objects/contacts/{ADA_CRM_ID}",
        json={"properties": properties},
        headers={"Authorization": "Bearer pat-sandbox-crm"},
    )
    assert changed.status_code == 200, changed.text


async def test_a_crm_change_of_ada_reaches_her_subscriber_naming_the_crm(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_a, live_stack.token()) as client:
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)
        # The subscription is registered once the server has its first message; a ping's
        # pong, answered after the subscribe, says the server read both.
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
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)
        await client.ping()
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


async def test_a_handoff_reaches_an_incoming_calls_subscriber_and_its_claim_follows(
    live_stack: LiveStack,
) -> None:
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await client.subscribe(INCOMING_CALLS)
        await client.ping()
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
        operation = await client.subscribe(INTERACTION_UPDATED, c=call.contact_id)
        await client.ping()
        await live_stack.graphql(live_stack.gateway_a, CLAIM, c=call.contact_id)
        await live_stack.graphql(live_stack.gateway_a, END, c=call.contact_id)

        states = [(await client.data(operation))["interactionUpdated"]["state"] for _ in range(2)]
        ended = await client.next(operation)

    assert states == ["ACTIVE", "ENDED"]
    assert ended["type"] == "complete"


async def test_an_expired_token_ends_its_subscription(live_stack: LiveStack) -> None:
    ada = await live_stack.ada_id()
    short = live_stack.token(ttl=2)
    async with live_client(live_stack.gateway_a, short) as client:
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)

        ended = await client.next(operation)
        after = await client.next(operation)

    assert ended["type"] == "next"
    error = ended["payload"]["errors"][0]
    assert error["extensions"] == {"code": "SUBSCRIPTION_ENDED", "reason": "TOKEN_EXPIRED"}
    assert after["type"] == "complete"


async def test_a_connection_without_a_valid_token_is_closed_forbidden(
    live_stack: LiveStack,
) -> None:
    with pytest.raises(Closed) as refused:
        async with live_client(live_stack.gateway_a, "not-a-token"):
            pass
    assert refused.value.code == 4403
    with pytest.raises(Closed) as missing:
        async with live_client(live_stack.gateway_a, None):
            pass
    assert missing.value.code == 4403


async def test_the_ivr_may_not_follow_a_customer(live_stack: LiveStack) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_a, live_stack.token("ivr", "ivr-sandbox")) as client:
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)
        refused = await client.next(operation)
    assert refused["type"] == "next"
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"


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
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)
        await client.ping()
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
        operation = await client.subscribe(CALL_WITH_CUSTOMER, c=call.contact_id)
        await client.ping()
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


async def test_a_subscription_over_http_streams_the_change_as_a_multipart_part(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_stack.http.stream(
        "POST",
        f"{live_stack.gateway_b}/graphql",
        json={"query": CUSTOMER_UPDATED, "variables": {"id": ada}},
        headers={
            "Authorization": f"Bearer {live_stack.token()}",
            "Accept": 'multipart/mixed;subscriptionSpec="1.0",application/json',
        },
        timeout=15.0,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/mixed")
        parts = response.aiter_text()
        await change_ada_in_the_crm(live_stack, firstname="Augusta")
        text = ""
        while '"customerUpdated"' not in text:
            text += await anext(parts)

    # Parts are separated by the boundary; the first ones are heartbeats ({}).
    part = next(part for part in text.split("--graphql") if '"customerUpdated"' in part)
    payload = orjson.loads(part[part.index("{") :])["payload"]["data"]["customerUpdated"]
    assert payload["sources"] == ["CRM"]


async def test_a_subscription_over_server_sent_events_streams_the_change(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_stack.http.stream(
        "POST",
        f"{live_stack.gateway_a}/graphql",
        json={"query": CUSTOMER_UPDATED, "variables": {"id": ada}},
        headers={
            "Authorization": f"Bearer {live_stack.token()}",
            "Accept": "text/event-stream",
        },
        timeout=15.0,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        await change_ada_in_the_crm(live_stack, firstname="Augusta")
        line = ""
        while not line.startswith("data:"):
            line = await anext(lines)

    change = orjson.loads(line.removeprefix("data:"))["data"]["customerUpdated"]
    assert change["sources"] == ["CRM"]


async def test_a_request_without_a_token_gets_no_stream(live_stack: LiveStack) -> None:
    response = await live_stack.http.post(
        f"{live_stack.gateway_a}/graphql",
        json={"query": CUSTOMER_UPDATED, "variables": {"id": "anyone"}},
        headers={"Accept": "text/event-stream"},
    )
    assert response.status_code == 401


UNLINK = """mutation($c: ID!, $s: Source!, $x: ID!, $r: String!) {
  unlinkIdentity(customerId: $c, source: $s, externalId: $x, reason: $r) { id }
}"""


async def test_a_supervisors_link_decision_tells_the_subscriber_to_requery(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    async with live_client(live_stack.gateway_b, live_stack.token()) as client:
        operation = await client.subscribe(CUSTOMER_UPDATED, id=ada)
        await client.ping()
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
