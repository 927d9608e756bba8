"""The webhook receivers over a real PostgreSQL: what is refused (signatures, shapes, sizes) or
fails (the invalidation), and changes nothing."""

from __future__ import annotations

from pydantic import SecretStr

from adapters.crm.settings import CrmSettings
from app.store.customers import Store
from app.webhooks.settings import WebhookSettings
from kernel.models import Source
from tests.app.webhooks.webhooks_kit import (
    ADA,
    NOW,
    Gateway,
    hubspot_change,
    link_ada,
    stripe_event,
)

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
