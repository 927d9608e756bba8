"""How the sandbox delivers its webhooks: after the write answers, retried until accepted,
given up after the last attempt, counted as dropped without a target; the target and the
secrets changed at run time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from adapters.crm.webhooks import verify_hubspot
from tests.sandbox.webhooks.sandbox_webhooks_kit import FAST, RECEIVER, Drain, Receiver

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
