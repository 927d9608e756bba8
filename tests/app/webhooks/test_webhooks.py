"""The webhook receivers over a real PostgreSQL: what a signed event changes, and what not.

Deliveries are signed with the sandbox's signers (the vendors' formats), so these tests also
check that the gateway reads what the sandbox sends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.crm.settings import CrmSettings
from adapters.settings import SourceSettings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from app.store.sync.values import KeyRow, LookupKey, NewCustomer, NewLink, PageWrite
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.webhooks.settings import WebhookSettings
from kernel.identity import CustomerId
from kernel.models import Source
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.conftest import scratch_database

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


@pytest.fixture
async def gateway(store: Store) -> AsyncIterator[Gateway]:
    await link_ada(store)
    gateway = Gateway(store, WebhookSettings())
    async with gateway.http:
        yield gateway


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


# --- what a valid event does ----------------------------------------------------------------


async def test_a_crm_email_change_invalidates_the_contact(gateway: Gateway) -> None:
    response = await gateway.deliver("crm", [hubspot_change(1, "email", "ada@new.example")])

    assert response.status_code == 200
    assert response.json() == {"received": 1, "processed": 1, "duplicates": 0}
    assert gateway.invalidator.calls == [(Source.CRM, "1001")]


async def test_a_crm_email_change_moves_the_lookup_to_the_new_address(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "email", "Ada@New.Example")])

    assert await gateway.store.find_by_email("ada@new.example") == [ADA]
    assert await gateway.store.find_by_email("ada@old.example") == []


async def test_a_moved_lookup_key_is_a_link_change_on_the_audit_trail(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "email", "ada@new.example")])

    page = await AuditTrailStore(gateway.store).read_audit_trail(ADA, 10, None)
    changes = [recorded.entry for recorded in page.entries if recorded.entry.kind == "LINK_CHANGE"]
    assert len(changes) == 1
    assert (changes[0].subject, changes[0].role, changes[0].fields) == (
        "webhook:crm",
        "system",
        ("email_key",),
    )
    assert "ada@new.example" not in str(changes[0])


async def test_a_crm_phone_change_is_stored_in_e164(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "phone", "020 7946 0999")])

    assert await gateway.store.find_by_phone("+442079460999") == [ADA]
    assert await gateway.store.find_by_phone("+442079460018") == []


async def test_a_cleared_crm_email_removes_the_lookup(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "email", "")])

    assert await gateway.store.find_by_email("ada@old.example") == []


async def test_a_crm_change_of_another_property_only_invalidates(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "firstname", "Augusta")])

    assert gateway.invalidator.calls == [(Source.CRM, "1001")]
    assert await gateway.store.find_by_email("ada@old.example") == [ADA]


async def test_every_event_of_a_hubspot_batch_is_processed(gateway: Gateway) -> None:
    batch = [hubspot_change(1, "email", "ada@new.example"), hubspot_change(2, "phone", "")]

    response = await gateway.deliver("crm", batch)

    assert response.json() == {"received": 2, "processed": 2, "duplicates": 0}
    assert await gateway.store.find_by_phone("+442079460018") == []


async def test_a_stripe_customer_update_moves_the_billing_email(gateway: Gateway) -> None:
    customer = {"id": "cus_ada", "object": "customer", "email": "ada@pay.example", "phone": None}

    response = await gateway.deliver("billing", stripe_event("evt_1", "customer.updated", customer))

    assert response.status_code == 200
    assert gateway.invalidator.calls == [(Source.BILLING, "cus_ada")]
    assert await gateway.store.find_by_email("ada@pay.example") == [ADA]
    assert await gateway.store.find_by_email("ada.billing@example.com") == []


async def test_a_paid_invoice_invalidates_its_customer(gateway: Gateway) -> None:
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_ada", "status": "paid"}

    await gateway.deliver("billing", stripe_event("evt_2", "invoice.paid", invoice))

    assert gateway.invalidator.calls == [(Source.BILLING, "cus_ada")]


async def test_a_new_ticket_invalidates_its_requester(gateway: Gateway) -> None:
    detail = {"id": "70009", "requester_id": "9001", "status": "NEW"}

    response = await gateway.deliver("support", zendesk_event("01J-a", "ticket.created", detail))

    assert response.status_code == 200
    assert gateway.invalidator.calls == [(Source.SUPPORT, "9001")]


async def test_an_event_about_no_customer_is_acknowledged_and_changes_nothing(
    gateway: Gateway,
) -> None:
    event = hubspot_change(1, "name", "Acme") | {"subscriptionType": "company.propertyChange"}

    response = await gateway.deliver("crm", [event])

    assert response.status_code == 200
    assert gateway.invalidator.calls == []


# --- what is refused, and changes nothing ---------------------------------------------------


async def test_a_wrong_secret_gets_401_and_changes_nothing(gateway: Gateway) -> None:
    change = [hubspot_change(1, "email", "mallory@evil.example")]

    response = await gateway.deliver("crm", change, secret="not-the-secret")

    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "message": "invalid webhook signature",
                "extensions": {"code": "WEBHOOK_SIGNATURE_INVALID"},
            }
        ]
    }
    assert gateway.invalidator.calls == []
    assert await gateway.store.find_by_email("mallory@evil.example") == []
    assert (
        gateway.count("scv_webhook_deliveries_rejected_total", source="CRM", reason="bad_signature")
        == 1
    )


async def test_a_sources_own_secret_signs_its_webhooks(store: Store) -> None:
    await link_ada(store)
    rotated = CrmSettings(webhook_secret=SecretStr("hubspot-app-secret-2"))
    gateway = Gateway(store, WebhookSettings(), sections={Source.CRM: rotated})
    change = [hubspot_change(1, "email", "ada@rotated.example")]

    async with gateway.http:
        refused = await gateway.deliver("crm", change)
        accepted = await gateway.deliver("crm", change, secret="hubspot-app-secret-2")

    assert refused.status_code == 401
    assert accepted.status_code == 200


async def test_a_refused_event_can_still_be_delivered_properly_later(gateway: Gateway) -> None:
    change = [hubspot_change(1, "email", "ada@new.example")]
    await gateway.deliver("crm", change, secret="not-the-secret")

    response = await gateway.deliver("crm", change)

    assert response.json()["processed"] == 1


async def test_an_expired_timestamp_gets_401(gateway: Gateway) -> None:
    customer = {"id": "cus_ada", "object": "customer", "email": "x@y.example"}
    event = stripe_event("evt_1", "customer.updated", customer)

    response = await gateway.deliver("billing", event, at=NOW - 301)

    assert response.status_code == 401
    assert gateway.invalidator.calls == []
    assert (
        gateway.count(
            "scv_webhook_deliveries_rejected_total", source="BILLING", reason="stale_timestamp"
        )
        == 1
    )


async def test_an_unsigned_delivery_gets_401(gateway: Gateway) -> None:
    response = await gateway.http.post("/webhooks/support", content=b"{}")

    assert response.status_code == 401


async def test_a_signed_body_of_the_wrong_shape_gets_400(gateway: Gateway) -> None:
    response = await gateway.deliver("crm", {"not": "an array"})

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {"message": "malformed webhook body", "extensions": {"code": "WEBHOOK_MALFORMED"}}
        ]
    }
    assert gateway.invalidator.calls == []


async def test_a_body_over_the_limit_gets_413(store: Store) -> None:
    gateway = Gateway(store, WebhookSettings(max_body_bytes=1024))
    async with gateway.http:
        response = await gateway.deliver(
            "crm", [hubspot_change(n, "firstname", "x" * 50) for n in range(20)]
        )

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "WEBHOOK_TOO_LARGE"}
    assert gateway.invalidator.calls == []


async def test_a_failed_invalidation_gets_503_and_the_retry_processes_it(
    gateway: Gateway,
) -> None:
    change = [hubspot_change(1, "email", "ada@new.example")]
    gateway.invalidator.failing = True

    failed = await gateway.deliver("crm", change)
    gateway.invalidator.failing = False
    retried = await gateway.deliver("crm", change)

    assert failed.status_code == 503
    assert failed.json()["errors"][0]["extensions"] == {"code": "WEBHOOK_UNAVAILABLE"}
    assert gateway.count("scv_webhook_events_failed_total", source="CRM") == 1
    assert retried.json()["processed"] == 1
    assert gateway.invalidator.calls == [(Source.CRM, "1001")]


async def test_a_failed_event_leaves_the_keys_as_they_were(gateway: Gateway) -> None:
    gateway.invalidator.failing = True

    await gateway.deliver("crm", [hubspot_change(1, "email", "ada@new.example")])

    assert await gateway.store.find_by_email("ada@old.example") == [ADA]
    assert await gateway.store.find_by_email("ada@new.example") == []


# --- duplicates and order -------------------------------------------------------------------


async def test_a_replayed_event_is_processed_once(gateway: Gateway) -> None:
    change = [hubspot_change(7, "email", "ada@new.example")]

    first = await gateway.deliver("crm", change)
    again = await gateway.deliver("crm", change)

    assert first.json()["processed"] == 1
    assert again.json() == {"received": 1, "processed": 0, "duplicates": 1}
    assert gateway.invalidator.calls == [(Source.CRM, "1001")]
    assert gateway.count("scv_webhook_events_duplicate_total", source="CRM") == 1


async def test_concurrent_deliveries_of_one_event_process_it_exactly_once(
    gateway: Gateway,
) -> None:
    detail = {"id": "70009", "requester_id": "9001"}
    event = zendesk_event("01J-same", "ticket.status_changed", detail)

    responses = await asyncio.gather(*(gateway.deliver("support", event) for _ in range(8)))

    assert [r.status_code for r in responses] == [200] * 8
    assert sum(r.json()["processed"] for r in responses) == 1
    assert gateway.invalidator.calls == [(Source.SUPPORT, "9001")]


@pytest.fixture
async def two_gateways(database_url: str) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Two gateways, each with a pool of its own, on one database: as two processes are."""
    async with scratch_database(database_url, "test_hooks") as url:
        stores: list[Store] = []
        try:
            for _ in range(2):
                stores.append(await Store.connect(url, pool_size=4))
            await stores[0].migrate()
            await link_ada(stores[0])
            first, second = (Gateway(store, WebhookSettings()) for store in stores)
            async with first.http, second.http:
                yield first, second
        finally:
            for store in stores:
                await store.close()


async def test_one_event_reaching_two_gateway_processes_is_processed_once(
    two_gateways: tuple[Gateway, Gateway],
) -> None:
    event = [hubspot_change(42, "email", "ada@new.example")]

    responses = await asyncio.gather(
        *(gateway.deliver("crm", event) for gateway in two_gateways for _ in range(4))
    )

    assert sum(r.json()["processed"] for r in responses) == 1
    assert sum(r.json()["duplicates"] for r in responses) == 7
    calls = [call for gateway in two_gateways for call in gateway.invalidator.calls]
    assert calls == [(Source.CRM, "1001")]


async def test_the_same_event_id_from_two_sources_is_two_events(gateway: Gateway) -> None:
    detail = {"id": "70009", "requester_id": "9001"}
    invoice = {"id": "in_1", "object": "invoice", "customer": "cus_ada"}

    await gateway.deliver("support", zendesk_event("shared-id", "ticket.created", detail))
    await gateway.deliver("billing", stripe_event("shared-id", "invoice.paid", invoice))

    assert len(gateway.invalidator.calls) == 2


async def test_an_older_event_arriving_later_does_not_overwrite_a_newer_one(
    gateway: Gateway,
) -> None:
    newer = hubspot_change(2, "email", "ada@newest.example", at=NOW)
    older = hubspot_change(1, "email", "ada@older.example", at=NOW - 60)

    await gateway.deliver("crm", [newer])
    response = await gateway.deliver("crm", [older])

    assert response.json()["processed"] == 1
    assert await gateway.store.find_by_email("ada@newest.example") == [ADA]
    assert await gateway.store.find_by_email("ada@older.example") == []
    assert gateway.count("scv_webhook_stale_key_updates_total", source="CRM") == 1


async def test_an_older_event_still_invalidates(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(2, "email", "a@new.example", at=NOW)])
    await gateway.deliver("crm", [hubspot_change(1, "email", "a@old.example", at=NOW - 60)])

    assert gateway.invalidator.calls == [(Source.CRM, "1001"), (Source.CRM, "1001")]


async def test_an_older_email_change_does_not_hold_back_a_phone_change(gateway: Gateway) -> None:
    # HubSpot sends one event per property: order is kept per field, not per contact.
    await gateway.deliver("crm", [hubspot_change(2, "email", "a@new.example", at=NOW)])
    await gateway.deliver("crm", [hubspot_change(1, "phone", "020 7946 0999", at=NOW - 60)])

    assert await gateway.store.find_by_phone("+442079460999") == [ADA]


async def test_processed_events_are_counted_with_their_lag(gateway: Gateway) -> None:
    await gateway.deliver("crm", [hubspot_change(1, "email", "a@new.example", at=NOW - 2)])

    assert gateway.count("scv_webhook_events_processed_total", source="CRM") == 1
    assert gateway.count("scv_webhook_event_lag_seconds_count", source="CRM") == 1
    assert gateway.count("scv_webhook_event_lag_seconds_sum", source="CRM") == pytest.approx(
        2, abs=0.01
    )
