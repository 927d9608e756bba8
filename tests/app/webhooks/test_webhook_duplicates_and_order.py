"""The webhook receivers over a real PostgreSQL: duplicates (replays, concurrent deliveries, two
gateway processes) and order (an older event never overwrites a newer one), and the lag counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

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
    zendesk_event,
)
from tests.conftest import scratch_database

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
