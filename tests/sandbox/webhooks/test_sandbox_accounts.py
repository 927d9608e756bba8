"""The sandbox's other accounts: globex's own records, keys and signed webhooks."""

from __future__ import annotations

import time

import httpx
from starlette.applications import Starlette

from adapters.billing.webhooks import verify_stripe
from sandbox.accounts import GLOBEX_ACCOUNT, tenants_environment
from sandbox.billing.system import API_KEY as DEFAULT_BILLING_KEY
from sandbox.server import Sandbox
from tests.sandbox.webhooks.sandbox_webhooks_kit import RECEIVER, Receiver

GLOBEX_BILLING = "/accounts/globex/billing"


def client(app: Starlette, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sandbox.test",
        headers={"Authorization": f"Bearer {key}"},
    )


async def test_globex_has_its_own_records_under_its_own_key(app: Starlette) -> None:
    async with client(app, GLOBEX_ACCOUNT.api_keys["billing"]) as globex:
        hedy = await globex.get(f"{GLOBEX_BILLING}/v1/customers/cus_hedy")
        grace = await globex.get(f"{GLOBEX_BILLING}/v1/customers/cus_globex_grace")
        acme_grace = await globex.get(f"{GLOBEX_BILLING}/v1/customers/cus_grace")
    assert hedy.json()["email"] == "hedy.lamarr@example.com"
    assert grace.json()["email"] == "grace.hopper@example.com"
    assert acme_grace.status_code == 404
    async with client(app, DEFAULT_BILLING_KEY) as acme:
        assert (await acme.get("/billing/v1/customers/cus_hedy")).status_code == 404
        assert (await acme.get("/billing/v1/customers/cus_grace")).status_code == 200


async def test_globex_refuses_the_default_accounts_key_and_logs_the_refusal(
    app: Starlette,
) -> None:
    async with client(app, DEFAULT_BILLING_KEY) as acme:
        refused = await acme.get(f"{GLOBEX_BILLING}/v1/customers/cus_hedy")
    assert refused.status_code == 401
    sandbox: Sandbox = app.state.sandbox
    log = sandbox.accounts["globex"].controls["billing"].stats()["log"]
    assert [entry["status"] for entry in log] == [401]


async def test_globex_webhooks_go_to_its_tenants_endpoint_signed_with_its_secret(
    app: Starlette,
) -> None:
    receiver = Receiver()
    sandbox: Sandbox = app.state.sandbox
    sandbox.outbox.transport = httpx.MockTransport(receiver.handle)
    async with client(app, GLOBEX_ACCOUNT.api_keys["billing"]) as globex:
        await globex.post(f"{GLOBEX_BILLING}/v1/customers/cus_hedy", data={"name": "Hedy K."})
    await sandbox.drain()
    await sandbox.accounts["globex"].outbox.aclose()
    (request,) = receiver.requests
    assert str(request.url) == f"{RECEIVER}/globex/billing"
    verify_stripe(
        request.headers["stripe-signature"],
        request.content,
        GLOBEX_ACCOUNT.webhook_secrets["billing"],
        now=time.time(),
        tolerance=300,
    )
    assert sandbox.outbox.stats("billing")["emitted"] == 0


def test_the_gateway_is_told_each_account_as_a_tenant_of_its_own() -> None:
    environment = tenants_environment("http://127.0.0.1:9")
    assert environment["SCV_TENANCY__TENANTS"] == '["acme", "globex"]'
    assert environment["SCV_TENANTS__GLOBEX__BILLING__BASE_URL"] == (
        "http://127.0.0.1:9/accounts/globex/billing"
    )
    assert environment["SCV_TENANTS__GLOBEX__IVR__API_KEY"] == "ivr-globex-key"
    assert "SCV_TENANTS__GLOBEX__IVR__WEBHOOK_SECRET" not in environment
    assert (
        environment["SCV_TENANTS__GLOBEX__CRM__WEBHOOK_SECRET"]
        == (GLOBEX_ACCOUNT.webhook_secrets["crm"])
    )
