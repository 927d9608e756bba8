"""``/_sandbox/clock``: a system's clock, set or advanced by a test; support's tickets and
their events are dated by it, webhook signatures stay on the real time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.server import Sandbox
from tests.sandbox.webhooks.conftest import Drain
from tests.sandbox.webhooks.sandbox_webhooks_kit import Receiver

EARLIER = datetime(2026, 1, 1, 9, 30, tzinfo=UTC)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_tickets_and_their_events_are_dated_by_the_clock_set_and_advanced(
    app: Starlette,
    support: httpx.AsyncClient,
    receiver: Receiver,
    outbox_drained: Drain,
) -> None:
    sandbox: Sandbox = app.state.sandbox
    requester = next(iter(sandbox.dataset.support.users)).id
    shown = await support.post("/_sandbox/clock", json={"at": EARLIER.isoformat()})
    assert shown.status_code == 200
    assert moment(shown.json()["now"]) - EARLIER < timedelta(seconds=5)

    created = await support.post(
        "/api/v2/tickets.json",
        json={"ticket": {"requester_id": requester, "comment": {"body": "Parcel lost"}}},
    )
    ticket = created.json()["ticket"]
    await support.post("/_sandbox/clock", json={"advance_seconds": 4 * 86_400})
    updated = await support.put(
        f"/api/v2/tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    )
    await outbox_drained()

    opened_at = moment(ticket["created_at"])
    assert opened_at - EARLIER < timedelta(seconds=5)
    changed = updated.json()["ticket"]
    assert moment(changed["created_at"]) == opened_at
    assert moment(changed["updated_at"]) - opened_at >= timedelta(days=4)
    assert moment(changed["updated_at"]) - opened_at < timedelta(days=4, seconds=5)
    events = receiver.payloads()
    assert [moment(e["time"]) - opened_at < timedelta(days=4) for e in events] == [True, False]
    # The transport is on the real clock: a receiver checks signatures against its own.
    (request, *_) = receiver.requests
    signed_at = moment(request.headers["x-zendesk-webhook-signature-timestamp"])
    assert abs(signed_at.timestamp() - time.time()) < 60


async def test_delete_puts_the_clock_back_on_the_real_time(support: httpx.AsyncClient) -> None:
    await support.post("/_sandbox/clock", json={"advance_seconds": -86_400})
    assert (await support.get("/_sandbox/clock")).json()["offset_seconds"] == pytest.approx(-86_400)

    reset = await support.delete("/_sandbox/clock")

    assert reset.json()["offset_seconds"] == 0
    assert abs(moment(reset.json()["now"]).timestamp() - time.time()) < 5


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"at": "2026-01-01T00:00:00+00:00", "advance_seconds": 1},
        {"at": "2026-01-01T00:00:00"},  # no time zone
        {"advance_seconds": "1"},
        {"advance_seconds": 1e12},
        {"at": "2999-01-01T00:00:00+00:00"},
        {"speed": 2},
    ],
)
async def test_a_bad_change_is_refused_and_changes_nothing(
    support: httpx.AsyncClient, body: dict[str, object]
) -> None:
    refused = await support.post("/_sandbox/clock", json=body)

    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid clock"
    assert (await support.get("/_sandbox/clock")).json()["offset_seconds"] == 0
