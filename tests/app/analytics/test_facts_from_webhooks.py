"""A customer's facts refreshed through the webhook receiver: a signed billing event, the
system that cannot be read (acknowledged) and the facts that cannot be stored (retried)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import orjson
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.analytics.metrics import FactsMetrics
from app.analytics.refresh import FactsUpdater
from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.webhooks.metrics import WebhookMetrics
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.webhooks.settings import WebhookSettings
from kernel.errors import UpstreamUnavailable
from kernel.identity import CustomerId
from kernel.models import Source
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.app.webhooks.webhooks_kit import ADA, BASE, RecordingInvalidator, link_ada, stripe_event
from tests.app.webhooks.webhooks_kit import NOW as WEBHOOK_NOW
from tests.builders import billing_customer
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter

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

    response, registry = await deliver_billing_update(
        store, billing, FactsWriter(store.pool, store.tenant)
    )

    assert response.status_code == 200
    found = await PostgresFactsStore(store.pool).get_facts([ADA])
    assert (found[ADA].balance, found[ADA].delinquent) == (Decimal("9.99"), True)
    labels = {"source": "BILLING", "outcome": "refreshed"}
    assert registry.get_sample_value("scv_customer_facts_updates_total", labels) == 1


async def test_a_webhook_is_acknowledged_when_the_system_cannot_be_read(store: Store) -> None:
    billing = FakeBillingAdapter([billing_customer("cus_ada")])
    billing.errors["get_customer"] = UpstreamUnavailable(Source.BILLING, "timeout")

    response, registry = await deliver_billing_update(
        store, billing, FactsWriter(store.pool, store.tenant)
    )

    assert response.status_code == 200
    labels = {"source": "BILLING", "outcome": "failed"}
    assert registry.get_sample_value("scv_customer_facts_updates_total", labels) == 1


async def test_a_webhook_is_retried_when_the_facts_cannot_be_stored(store: Store) -> None:
    billing = FakeBillingAdapter([billing_customer("cus_ada")])

    response, _ = await deliver_billing_update(
        store, billing, BrokenWriter(store.pool, store.tenant)
    )

    assert response.status_code == 503
    assert "store down" not in response.text
