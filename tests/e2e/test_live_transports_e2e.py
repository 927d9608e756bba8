"""Live subscriptions end to end, who may and over what: tokens and roles on a WebSocket, and
GraphQL over HTTP's streams (multipart, server-sent events)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.e2e.live_client import Closed, live_client
from tests.e2e.live_kit import CUSTOMER_UPDATED, LiveStack, change_ada_in_the_crm


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


async def test_a_subscription_over_http_streams_the_change_as_a_multipart_part(
    live_stack: LiveStack,
) -> None:
    ada = await live_stack.ada_id()
    before = await live_stack.open_subscriptions(live_stack.gateway_b)
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
        await live_stack.until_subscribed(live_stack.gateway_b, before)
        await change_ada_in_the_crm(live_stack, firstname="Augusta")
        text = ""
        # Heartbeats come every few seconds: without a bound, a change that never came
        # would keep the test reading them for ever.
        async with asyncio.timeout(15):
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
    before = await live_stack.open_subscriptions(live_stack.gateway_a)
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
        await live_stack.until_subscribed(live_stack.gateway_a, before)
        await change_ada_in_the_crm(live_stack, firstname="Augusta")
        line = ""
        async with asyncio.timeout(15):
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
