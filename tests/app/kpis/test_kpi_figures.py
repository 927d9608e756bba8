"""The integration KPIs' store figures over a real PostgreSQL: webhook events posted to the
real signed endpoint show their latency from received to applied, and a sync that met
invalid and ambiguous records shows its failed and duplicate volume."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.kpis import KpiStore
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.webhooks.settings import WebhookSettings
from kernel.integration_kpis import EventLatency, RecordVolume
from kernel.models import Source
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.builders import billing_customer, crm_contact, support_user
from tests.fake_systems import holding
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter

BASE = "http://gateway.test"
START = datetime.now(UTC).timestamp()
#: Each reading of the receiver's clock is this much later than the one before.
STEP = 0.25


class SteppingClock:
    """The receiver's clock: START, then STEP seconds later at each reading."""

    def __init__(self) -> None:
        self.readings: Iterator[float] = (START + STEP * n for n in range(10**6))

    def __call__(self) -> float:
        return next(self.readings)


class WithStore:
    """Puts the store where the gateway's lifespan puts it (the request state)."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["store"] = self.store
        await self.app(scope, receive, send)


class NoCache:
    async def invalidate_record(self, source: Source, record_id: str) -> None:
        return None


@pytest.fixture
async def webhooks(store: Store) -> AsyncIterator[tuple[httpx.AsyncClient, CollectorRegistry]]:
    registry = CollectorRegistry()
    invalidator: RecordInvalidator = NoCache()

    def invalidator_for(request: Request) -> RecordInvalidator:
        return invalidator

    receiver = WebhookReceiver(
        WebhookSettings(),
        default_region="GB",
        metrics=WebhookMetrics.create(registry),
        invalidator_for=invalidator_for,
        demo=True,
        clock=SteppingClock(),
    )
    app = WithStore(Starlette(routes=receiver.routes()), store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http, registry


def hubspot_change(event_id: int) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 2,
        "appId": 3,
        "occurredAt": int(START * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 1001,
        "propertyName": "firstname",
        "propertyValue": "Ada",
        "changeSource": "CRM_UI",
    }


async def deliver(http: httpx.AsyncClient, events: list[dict[str, Any]]) -> httpx.Response:
    body = orjson.dumps(events)
    url = f"{BASE}/webhooks/crm"
    headers = signed_headers("crm", DEFAULT_SECRETS["crm"], url, body, START)
    return await http.post(url, content=body, headers=headers)


async def test_posted_webhooks_show_their_latency_from_received_to_applied(
    store: Store, webhooks: tuple[httpx.AsyncClient, CollectorRegistry]
) -> None:
    http, registry = webhooks
    since = datetime.fromtimestamp(START, UTC) - timedelta(minutes=1)

    # One delivery of two events: clock readings received (0), signature checked (1), then
    # per event applied (2) and its metric (3), applied (4) and its metric (5): latencies of
    # 2 and 4 steps.
    response = await deliver(http, [hubspot_change(1), hubspot_change(2)])
    assert response.json() == {"received": 2, "processed": 2, "duplicates": 0}
    # A retry is a duplicate: not applied again, not counted again.
    await deliver(http, [hubspot_change(1)])

    figures = await KpiStore(store, None).event_latency_since(since)

    day = datetime.fromtimestamp(START, UTC).date()
    p50, p99 = pytest.approx(3 * STEP), pytest.approx((2 + 0.99 * 2) * STEP)
    assert figures == (
        EventLatency(Source.CRM, 2, p50, p99, None),
        EventLatency(Source.CRM, 2, p50, p99, day),
    )
    applied = registry.get_sample_value("scv_webhook_event_apply_seconds_sum", {"source": "CRM"})
    # /metrics reads the clock after the commit: 3 and 5 steps.
    assert applied == pytest.approx((3 + 5) * STEP)


async def test_events_received_before_the_window_are_left_out(
    store: Store, webhooks: tuple[httpx.AsyncClient, CollectorRegistry]
) -> None:
    http, _ = webhooks
    await deliver(http, [hubspot_change(1)])

    later = datetime.fromtimestamp(START, UTC) + timedelta(minutes=1)
    assert await KpiStore(store, None).event_latency_since(later) == ()


async def test_a_sync_with_invalid_and_ambiguous_records_shows_its_volume(store: Store) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    systems = holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1004", "Katherine", "Johnson", email="kj@example.com"),
                crm_contact("1005", "Katherine", "Johnson", email="KJ@example.com"),
                crm_contact("1", "Ivy", "Invalid", email="not an email", phone="12"),
            ]
        ),
        billing=FakeBillingAdapter([billing_customer("cus_1", "Ivy", email="not an email")]),
        support=FakeSupportAdapter([support_user("9004", "K. Johnson", email="kj@example.com")]),
    )
    await sync_identities(store, systems.by_source, IdentitySettings(), full=True)

    figures = await KpiStore(store, None).record_volume_since(since)

    today = datetime.now(UTC).date()
    assert {f for f in figures if f.failed or f.duplicates} == {
        RecordVolume(Source.CRM, failed=2, duplicates=0, day=today),
        RecordVolume(Source.BILLING, failed=1, duplicates=0, day=today),
        RecordVolume(Source.SUPPORT, failed=0, duplicates=1, day=today),
    }
    assert await KpiStore(store, None).record_volume_since(datetime.now(UTC) + timedelta(1)) == ()
