"""Refreshing one customer's facts (``FactsUpdater``), as a webhook about one of its records
does, and only the records an incremental sync changed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.analytics.refresh import FactsUpdater, refresh_changed_facts, refresh_facts
from app.analytics.settings import CustomersSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from kernel.errors import UpstreamUnavailable
from kernel.models import Source
from tests.app.analytics.facts_kit import NO_ORDERS, NOW, facts_by_crm_id, systems
from tests.builders import billing_customer, ticket
from tests.fakes import FakeBillingAdapter, FakeSupportAdapter

# --- one customer, from a webhook ---------------------------------------------------------


async def updater_over(
    store: Store,
) -> tuple[FactsUpdater, FakeBillingAdapter, FakeSupportAdapter]:
    billing, crm, support, ivr = systems()
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    await refresh_facts(
        FactsWriter(store.pool, store.tenant), billing, crm, support, ivr, CustomersSettings(), "GB"
    )
    updater = FactsUpdater(
        store, FactsWriter(store.pool, store.tenant), billing, crm, support, clock=lambda: NOW
    )
    return updater, billing, support


async def test_a_changed_billing_record_refreshes_its_customers_money_facts(store: Store) -> None:
    updater, billing, _ = await updater_over(store)
    billing.customers["cus_ada"] = billing_customer("cus_ada", balance="0", delinquent=False)

    assert await updater.refresh_record(Source.BILLING, "cus_ada") is True

    ada = (await facts_by_crm_id(store))["c-ada"]
    assert (ada.balance, ada.delinquent, ada.subscription_status) == (Decimal(0), False, "PAST_DUE")
    assert ada.billing_taken_at == NOW


async def test_a_changed_support_user_refreshes_the_ticket_counts(store: Store) -> None:
    updater, _, support = await updater_over(store)
    support.tickets["z-ada"].append(ticket("4", created_at=NOW))

    await updater.refresh_record(Source.SUPPORT, "z-ada")

    ada = (await facts_by_crm_id(store))["c-ada"]
    assert (ada.open_ticket_count, ada.last_ticket_at) == (3, NOW)


async def test_after_an_incremental_sync_only_the_changed_records_are_read_again(
    store: Store,
) -> None:
    updater, billing, support = await updater_over(store)
    billing.customers["cus_ada"] = billing_customer("cus_ada", balance="0", delinquent=False)
    billing.calls.clear()
    support.calls.clear()

    report = await refresh_changed_facts(
        updater, FactsWriter(store.pool, store.tenant), {Source.BILLING: ["cus_ada"]}, concurrency=2
    )

    assert (report.records, report.refreshed) == (1, 1)
    assert dict(billing.calls) == {"get_customer": 1, "list_subscriptions": 1}
    assert support.calls.total() == 0
    ada = (await facts_by_crm_id(store))["c-ada"]
    assert (ada.balance, ada.delinquent) == (Decimal(0), False)


async def test_a_record_no_customer_shows_changes_nothing(store: Store) -> None:
    updater, billing, _ = await updater_over(store)
    billing.calls.clear()

    assert await updater.refresh_record(Source.BILLING, "cus_nobody") is False
    assert billing.calls.total() == 0


async def test_a_system_that_does_not_answer_keeps_the_old_facts(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    updater, billing, _ = await updater_over(store)
    billing.errors["get_customer"] = UpstreamUnavailable(Source.BILLING, "timeout")

    assert await updater.refresh_record(Source.BILLING, "cus_ada") is False

    assert (await facts_by_crm_id(store))["c-ada"].balance == Decimal("42.50")
    assert "cus_ada" not in caplog.text
