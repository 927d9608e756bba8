"""What the tests of the webhook receivers share: Ada linked in a real PostgreSQL, the receiver's
routes with a client (a ``Gateway``), and the vendors' events.

Deliveries are signed with the sandbox's signers (the vendors' formats), so these tests also
check that the gateway reads what the sandbox sends.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.settings import SourceSettings
from app.store.customers import Store
from app.store.sync.values import KeyRow, LookupKey, NewCustomer, NewLink, PageWrite
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.webhooks.settings import WebhookSettings
from kernel.identity import CustomerId
from kernel.models import Source
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers

ADA = CustomerId("cust_ada")
NOW = time.time()
BASE = "http://gateway.test"


class RecordingInvalidator:
    """Remembers every invalidation; fails them while ``failing`` is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[Source, str]] = []
        self.failing = False

    async def invalidate_record(self, source: Source, record_id: str) -> None:
        if self.failing:
            raise ConnectionError("cache unreachable")
        self.calls.append((source, record_id))


class WithStore:
    """Puts the store where the gateway's lifespan puts it (the request state)."""

    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})["store"] = self.store
        await self.app(scope, receive, send)


class Gateway:
    """The receiver's routes, a client, and what they touched."""

    def __init__(
        self,
        store: Store,
        settings: WebhookSettings,
        sections: Mapping[Source, SourceSettings] | None = None,
    ) -> None:
        self.store = store
        self.invalidator = RecordingInvalidator()
        self.registry = CollectorRegistry()
        self.metrics = WebhookMetrics.create(self.registry)
        invalidator: RecordInvalidator = self.invalidator

        def invalidator_for(request: Request) -> RecordInvalidator:
            return invalidator

        receiver = WebhookReceiver(
            settings,
            default_region="GB",
            metrics=self.metrics,
            invalidator_for=invalidator_for,
            sections=sections,
            demo=True,
            # A fixed "now": signatures made at NOW stay fresh however long the suite runs.
            clock=lambda: NOW,
        )
        self.receiver = receiver
        app = WithStore(Starlette(routes=receiver.routes()), store)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)

    async def deliver(
        self, system: str, payload: Any, *, secret: str | None = None, at: float | None = None
    ) -> httpx.Response:
        """POST ``payload`` to ``/webhooks/<system>``, signed as that vendor signs."""
        body = orjson.dumps(payload)
        url = f"{BASE}/webhooks/{system}"
        headers = signed_headers(
            system, secret or DEFAULT_SECRETS[system], url, body, NOW if at is None else at
        )
        return await self.http.post(url, content=body, headers=headers)

    def count(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


async def link_ada(store: Store) -> None:
    """Ada: CRM contact 1001 (email, phone), billing cus_ada, support user 9001."""
    created = datetime(2024, 1, 1, tzinfo=UTC)
    records: Sequence[tuple[Source, str, Sequence[LookupKey]]] = (
        (
            Source.CRM,
            "1001",
            (LookupKey("email", "ada@old.example"), LookupKey("phone", "+442079460018")),
        ),
        (Source.BILLING, "cus_ada", (LookupKey("email", "ada.billing@example.com"),)),
        (Source.SUPPORT, "9001", ()),
    )
    async with store.sync_session() as session:
        await session.write_page(
            PageWrite(Source.CRM, customers=[NewCustomer(ADA, "Ada", 0, "CRM:1001", created)])
        )
        for source, external_id, keys in records:
            await session.write_page(
                PageWrite(
                    source,
                    links=[NewLink(external_id, ADA, "anchor", created)],
                    keys_added=[KeyRow(external_id, ADA, key) for key in keys],
                )
            )


def hubspot_change(
    event_id: int, name: str, value: str, *, at: float = NOW, contact: int = 1001
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 2,
        "appId": 3,
        "occurredAt": int(at * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": contact,
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }


def stripe_event(event_id: str, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "object": "event",
        "created": int(NOW),
        "type": event_type,
        "data": {"object": obj},
    }


def zendesk_event(event_id: str, event_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": f"zen:event-type:{event_type}",
        "time": datetime.fromtimestamp(NOW, UTC).isoformat(),
        "account_id": 1,
        "detail": detail,
        "event": {},
    }
