"""Filling customer_facts from the systems (in-memory fakes) into a real PostgreSQL.

Customers are linked by the real identity sync first, as ``scv sync`` does; then the facts
refresh reads every system in bulk and each customer's row is checked against the records.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.analytics.metrics import FactsMetrics
from app.analytics.refresh import (
    FactsUpdater,
    most_relevant_status,
    refresh_changed_facts,
    refresh_facts,
)
from app.analytics.settings import CustomersSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.webhooks.settings import WebhookSettings
from kernel.customer_facts import CustomerFacts
from kernel.errors import UpstreamUnavailable
from kernel.identity import CustomerId
from kernel.models import Address, Source, SubscriptionStatus, TicketStatus
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.app.webhooks.webhooks_kit import ADA, BASE, RecordingInvalidator, link_ada, stripe_event
from tests.app.webhooks.webhooks_kit import NOW as WEBHOOK_NOW
from tests.builders import (
    billing_customer,
    crm_contact,
    ivr_contact_summary,
    subscription,
    support_user,
    ticket,
)
from tests.fake_orders import FakeOrdersAdapter
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeIvrAdapter, FakeSupportAdapter

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 5, 1, tzinfo=UTC)

#: The orders database knows no one here (tests/app/analytics/test_order_facts.py).
NO_ORDERS = {Source.ORDERS: FakeOrdersAdapter()}


def systems(
    page_size: int = 2,
) -> tuple[FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter, FakeIvrAdapter]:
    """Ada (every system, delinquent, two open tickets, a call), Grace (CRM and billing),
    Alan (CRM only). Small pages, so that facts add up across pages."""
    crm = FakeCrmAdapter(
        [
            crm_contact(
                "c-ada",
                "Ada",
                "Lovelace",
                email="ada@example.com",
                phone="+442071234567",
                billing_id="cus_ada",
                address=Address(city="London", country="United Kingdom"),
            ),
            crm_contact("c-grace", "Grace", "Hopper", billing_id="cus_grace"),
            crm_contact("c-alan", "Alan", "Turing", email="alan@example.com"),
        ],
        page_size=page_size,
    )
    billing = FakeBillingAdapter(
        [
            billing_customer("cus_ada", balance="42.50", delinquent=True),
            billing_customer("cus_grace", balance="-5", currency="USD"),
        ],
        subscriptions={
            "cus_ada": [
                subscription("sub_1", status=SubscriptionStatus.CANCELED),
                subscription("sub_2", status=SubscriptionStatus.PAST_DUE),
                subscription("sub_3", status=SubscriptionStatus.TRIALING),
            ],
        },
        page_size=page_size,
    )
    support = FakeSupportAdapter(
        [support_user("z-ada", external_id="c-ada")],
        tickets={
            "z-ada": [
                ticket("1", created_at=T1),
                ticket("2", status=TicketStatus.SOLVED, created_at=T1 + timedelta(days=3)),
                ticket("3", status=TicketStatus.ON_HOLD, created_at=T1 + timedelta(days=1)),
            ]
        },
        page_size=page_size,
    )
    ivr = FakeIvrAdapter(
        summaries=[
            ivr_contact_summary(
                "call-1", caller_number="+44 20 7123 4567", initiated_at=NOW - timedelta(days=2)
            ),
            ivr_contact_summary("call-2", caller_number="+15550000000", initiated_at=NOW),
        ]
    )
    return billing, crm, support, ivr


async def refreshed(store: Store, page_size: int = 2) -> dict[str, CustomerFacts]:
    billing, crm, support, ivr = systems(page_size)
    await sync_identities(
        store,
        {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS},
        IdentitySettings(),
    )
    await refresh_facts(
        FactsWriter(store.pool),
        billing,
        crm,
        support,
        ivr,
        CustomersSettings(),
        "GB",
        clock=lambda: NOW,
    )
    return await facts_by_crm_id(store)


async def facts_by_crm_id(store: Store) -> dict[str, CustomerFacts]:
    result: dict[str, CustomerFacts] = {}
    for crm_id in ("c-ada", "c-grace", "c-alan"):
        customer_id = await store.find_by_source_id(Source.CRM, crm_id)
        assert customer_id is not None
        found = await PostgresFactsStore(store.pool).get_facts([customer_id])
        result[crm_id] = found[customer_id]
    return result


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
    writer = FactsWriter(store.pool)
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
    writer = FactsWriter(store.pool)
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
            FactsWriter(store.pool), billing, crm, support, ivr, CustomersSettings(), "GB"
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
        FactsWriter(store.pool), billing, crm, support, ivr, CustomersSettings(), "GB"
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
        FactsWriter(store.pool), billing, crm, support, ivr, CustomersSettings(), "GB"
    )
    updater = FactsUpdater(store, FactsWriter(store.pool), billing, crm, support, clock=lambda: NOW)
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
        updater, FactsWriter(store.pool), {Source.BILLING: ["cus_ada"]}, concurrency=2
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


# --- through the webhook receiver ---------------------------------------------------------


class WithUpdater:
    """Puts the store and the facts updater where the gateway's lifespan puts them."""

    def __init__(self, app: ASGIApp, store: Store, updater: FactsUpdater) -> None:
        self.app = app
        self.store = store
        self.updater = updater

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        state["store"] = self.store
        state["facts_updater"] = self.updater
        await self.app(scope, receive, send)


class BrokenWriter(FactsWriter):
    """A writer whose store is down."""

    async def ensure_customer(self, customer_id: CustomerId) -> None:
        raise ConnectionRefusedError("store down")


async def deliver_billing_update(
    store: Store, billing: FakeBillingAdapter, writer: FactsWriter
) -> tuple[httpx.Response, CollectorRegistry]:
    """A signed Stripe ``customer.updated`` for Ada's billing record (cus_ada)."""
    await link_ada(store)
    registry = CollectorRegistry()
    updater = FactsUpdater(
        store,
        writer,
        billing,
        FakeCrmAdapter(),
        FakeSupportAdapter(),
        updates=FactsMetrics.create(registry).updates,
    )

    def invalidator_for(request: Request) -> RecordInvalidator:
        return RecordingInvalidator()

    receiver = WebhookReceiver(
        WebhookSettings(),
        default_region="GB",
        metrics=WebhookMetrics.create(CollectorRegistry()),
        invalidator_for=invalidator_for,
        demo=True,
        clock=lambda: WEBHOOK_NOW,
    )
    app = WithUpdater(Starlette(routes=receiver.routes()), store, updater)
    customer = {"id": "cus_ada", "object": "customer", "email": None, "phone": None}
    body = orjson.dumps(stripe_event("evt_1", "customer.updated", customer))
    url = f"{BASE}/webhooks/billing"
    headers = signed_headers("billing", DEFAULT_SECRETS["billing"], url, body, WEBHOOK_NOW)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        return await http.post(url, content=body, headers=headers), registry


async def test_a_billing_webhook_refreshes_the_customers_money_facts(store: Store) -> None:
    billing = FakeBillingAdapter([billing_customer("cus_ada", balance="9.99", delinquent=True)])

    response, registry = await deliver_billing_update(store, billing, FactsWriter(store.pool))

    assert response.status_code == 200
    found = await PostgresFactsStore(store.pool).get_facts([ADA])
    assert (found[ADA].balance, found[ADA].delinquent) == (Decimal("9.99"), True)
    labels = {"source": "BILLING", "outcome": "refreshed"}
    assert registry.get_sample_value("scv_customer_facts_updates_total", labels) == 1


async def test_a_webhook_is_acknowledged_when_the_system_cannot_be_read(store: Store) -> None:
    billing = FakeBillingAdapter([billing_customer("cus_ada")])
    billing.errors["get_customer"] = UpstreamUnavailable(Source.BILLING, "timeout")

    response, registry = await deliver_billing_update(store, billing, FactsWriter(store.pool))

    assert response.status_code == 200
    labels = {"source": "BILLING", "outcome": "failed"}
    assert registry.get_sample_value("scv_customer_facts_updates_total", labels) == 1


async def test_a_webhook_is_retried_when_the_facts_cannot_be_stored(store: Store) -> None:
    billing = FakeBillingAdapter([billing_customer("cus_ada")])

    response, _ = await deliver_billing_update(store, billing, BrokenWriter(store.pool))

    assert response.status_code == 503
    assert "store down" not in response.text
