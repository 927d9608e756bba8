"""Filling customer_facts from the systems (in-memory fakes) into a real PostgreSQL: the whole
refresh, every system read in bulk.

Customers are linked by the real identity sync first, as ``scv sync`` does; then the facts
refresh reads every system in bulk and each customer's row is checked against the records.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.analytics.refresh import most_relevant_status, refresh_facts
from app.analytics.settings import CustomersSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from kernel.customer_facts import CustomerFacts
from kernel.errors import UpstreamUnavailable
from kernel.models import Source, SubscriptionStatus
from tests.app.analytics.facts_kit import NO_ORDERS, NOW, T1, facts_by_crm_id, systems
from tests.builders import subscription


async def refreshed(store: Store, page_size: int = 2) -> dict[str, CustomerFacts]:
    billing, crm, support, ivr = systems(page_size)
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    await refresh_facts(
        FactsWriter(store.pool, store.tenant),
        billing,
        crm,
        support,
        ivr,
        CustomersSettings(),
        "GB",
        clock=lambda: NOW,
    )
    return await facts_by_crm_id(store)


async def test_billing_facts_come_from_the_customers_billing_record(store: Store) -> None:
    facts = await refreshed(store)

    ada, grace = facts["c-ada"], facts["c-grace"]
    assert (ada.balance, ada.currency, ada.delinquent) == (Decimal("42.50"), "GBP", True)
    assert (grace.balance, grace.currency, grace.delinquent) == (Decimal("-5"), "USD", False)
    assert ada.billing_taken_at == NOW


async def test_the_subscription_status_is_the_most_relevant_across_pages(store: Store) -> None:
    facts = await refreshed(store, page_size=1)

    assert facts["c-ada"].subscription_status == "PAST_DUE"
    assert facts["c-grace"].subscription_status is None


async def test_open_tickets_and_the_last_ticket_add_up_across_pages(store: Store) -> None:
    facts = await refreshed(store, page_size=1)

    ada = facts["c-ada"]
    assert (ada.open_ticket_count, ada.last_ticket_at) == (2, T1 + timedelta(days=3))
    assert ada.support_taken_at == NOW


async def test_the_last_contact_is_the_newest_of_a_call_and_a_ticket(store: Store) -> None:
    facts = await refreshed(store)

    assert facts["c-ada"].last_contact_at == NOW - timedelta(days=2)
    assert facts["c-grace"].last_contact_at is None


async def test_country_and_linked_sources_are_recorded(store: Store) -> None:
    facts = await refreshed(store)

    assert facts["c-ada"].country == "United Kingdom"
    assert facts["c-ada"].linked_sources == (Source.BILLING, Source.CRM, Source.SUPPORT)
    assert facts["c-alan"].linked_sources == (Source.CRM,)


async def test_a_customer_a_system_does_not_know_has_no_facts_of_it(store: Store) -> None:
    facts = await refreshed(store)

    alan = facts["c-alan"]
    assert (alan.balance, alan.delinquent, alan.open_ticket_count) == (None, None, None)
    assert (alan.billing_taken_at, alan.support_taken_at) == (None, None)
    assert alan.crm_taken_at == NOW


async def test_a_second_refresh_replaces_facts_that_changed(store: Store) -> None:
    billing, crm, support, ivr = systems()
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    writer = FactsWriter(store.pool, store.tenant)
    settings = CustomersSettings()
    await refresh_facts(writer, billing, crm, support, ivr, settings, "GB", clock=lambda: NOW)
    billing.subscriptions["cus_ada"] = []
    support.tickets["z-ada"] = []

    await refresh_facts(writer, billing, crm, support, ivr, settings, "GB", clock=lambda: NOW)

    ada = (await facts_by_crm_id(store))["c-ada"]
    assert (ada.subscription_status, ada.open_ticket_count, ada.last_ticket_at) == (None, 0, None)


async def test_a_record_gone_from_its_system_leaves_its_facts_empty(store: Store) -> None:
    billing, crm, support, ivr = systems()
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    writer = FactsWriter(store.pool, store.tenant)
    settings = CustomersSettings()
    await refresh_facts(writer, billing, crm, support, ivr, settings, "GB", clock=lambda: NOW)
    del billing.customers["cus_grace"]

    await refresh_facts(writer, billing, crm, support, ivr, settings, "GB", clock=lambda: NOW)

    grace = (await facts_by_crm_id(store))["c-grace"]
    assert (grace.balance, grace.currency, grace.delinquent) == (None, None, None)


async def test_a_system_failing_during_the_refresh_fails_it_with_that_error(
    store: Store,
) -> None:
    billing, crm, support, ivr = systems()
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    support.errors["iter_tickets"] = UpstreamUnavailable(Source.SUPPORT, "timeout")

    with pytest.raises(UpstreamUnavailable):
        await refresh_facts(
            FactsWriter(store.pool, store.tenant),
            billing,
            crm,
            support,
            ivr,
            CustomersSettings(),
            "GB",
        )

    ada = (await facts_by_crm_id(store))["c-ada"]
    assert (ada.open_ticket_count, ada.support_taken_at) == (None, None)


async def test_the_refresh_reads_each_system_by_its_bulk_listing(store: Store) -> None:
    billing, crm, support, ivr = systems(page_size=100)
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    for fake in (billing, crm, support):
        fake.calls.clear()

    await refresh_facts(
        FactsWriter(store.pool, store.tenant), billing, crm, support, ivr, CustomersSettings(), "GB"
    )

    assert dict(billing.calls) == {"iter_customers": 1, "iter_subscriptions": 1}
    assert dict(crm.calls) == {"iter_contacts": 1}
    assert dict(support.calls) == {"iter_tickets": 1}


def test_the_most_relevant_subscription_status_follows_the_documented_order() -> None:
    subs = [
        subscription("a", status=SubscriptionStatus.CANCELED),
        subscription("b", status=SubscriptionStatus.ACTIVE),
        subscription("c", status=SubscriptionStatus.UNPAID),
    ]

    assert most_relevant_status(subs) is SubscriptionStatus.ACTIVE
    assert most_relevant_status([]) is None
