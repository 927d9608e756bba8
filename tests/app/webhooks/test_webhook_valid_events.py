"""The webhook receivers over a real PostgreSQL: what a valid signed event changes (lookup keys,
invalidations, the audit trail), and an event about no customer, which changes nothing."""

from __future__ import annotations

from app.store.audit import AuditTrailStore
from kernel.models import Source
from tests.app.webhooks.webhooks_kit import (
    ADA,
    Gateway,
    hubspot_change,
    stripe_event,
    zendesk_event,
)

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
