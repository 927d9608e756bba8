"""Each tenant its own sources, over the real sandbox (two accounts) and PostgreSQL.

acme reads the sandbox's default account, globex its own (``sandbox/accounts.py``): Hedy
Lamarr is globex's only; Grace Hopper is a customer of both, two customers with each
tenant's own records; a webhook on globex's endpoint changes globex's view only; and acme's
keys never reach globex's account.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kernel.tenancy import TenantId
from sandbox.accounts import GLOBEX_ACCOUNT
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.tenancy.conftest import ACME, GLOBEX, SHARED_EMAIL, TenantsStack

HEDY = "hedy.lamarr@example.com"
LOOKUP = """query($e: String!) {
  customerByEmail(email: $e) { id links { source externalId } billing { subscriptions { id } } }
}"""


async def lookup(stack: TenantsStack, tenant: TenantId, email: str) -> Any:
    token = stack.token("agent", tenant)
    return (await stack.data(LOOKUP, {"e": email}, token))["customerByEmail"]


def links(customer: Any) -> set[tuple[str, str]]:
    return {(link["source"], link["externalId"]) for link in customer["links"]}


async def test_globex_finds_hedy_and_acme_does_not(tenants_stack: TenantsStack) -> None:
    hedy = await lookup(tenants_stack, GLOBEX, HEDY)
    assert hedy is not None
    assert links(hedy) == {("CRM", "5001"), ("BILLING", "cus_hedy"), ("SUPPORT", "95001")}
    assert await lookup(tenants_stack, ACME, HEDY) is None


async def test_the_shared_person_is_two_customers_with_each_tenants_own_records(
    tenants_stack: TenantsStack,
) -> None:
    acme = await lookup(tenants_stack, ACME, SHARED_EMAIL)
    globex = await lookup(tenants_stack, GLOBEX, SHARED_EMAIL)
    assert acme["id"] != globex["id"]
    assert ("BILLING", "cus_grace") in links(acme)
    assert links(globex) == {
        ("CRM", "5002"),
        ("BILLING", "cus_globex_grace"),
        ("SUPPORT", "95002"),
    }
    assert not links(acme) & links(globex)
    # Each panel read from the tenant's own account.
    assert [each["id"] for each in globex["billing"]["subscriptions"]] == ["sub_globex_grace"]
    assert [each["id"] for each in acme["billing"]["subscriptions"]] == ["sub_grace"]


async def test_a_webhook_on_globex_endpoint_changes_globex_view_only(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    new_email = "hedy@frequency-hopping.example"
    target = f"{stack.sandbox_url}/_sandbox/webhooks"
    await stack.http.post(target, json={"url": f"{stack.gateway_url}/webhooks"})
    try:
        changed = await stack.http.patch(
            f"{stack.sandbox_url}/accounts/globex/crm/crm/v3/objects/contacts/5001",
            json={"properties": {"email": new_email}},
            headers={"Authorization": "Bearer pat-globex-crm"},
        )
        assert changed.status_code == 200
        found = None
        for _ in range(200):
            found = await lookup(stack, GLOBEX, new_email)
            if found is not None:
                break
            await asyncio.sleep(0.05)
        assert found is not None
        assert ("CRM", "5001") in links(found)
        assert await lookup(stack, ACME, new_email) is None
        delivered = (await stack.http.get(target)).json()
        assert delivered["systems"]["crm"]["deliveries"]["delivered"] == 0
    finally:
        await stack.http.post(target, json={"url": None})
        await stack.http.patch(
            f"{stack.sandbox_url}/accounts/globex/crm/crm/v3/objects/contacts/5001",
            json={"properties": {"email": HEDY}},
            headers={"Authorization": "Bearer pat-globex-crm"},
        )


async def test_acme_keys_never_reach_globex_account(tenants_stack: TenantsStack) -> None:
    stack = tenants_stack
    for system in ("billing", "crm", "support", "ivr"):
        stats = (
            await stack.http.get(f"{stack.sandbox_url}/accounts/globex/{system}/_sandbox/stats")
        ).json()
        statuses = [entry["status"] for entry in stats["log"]]
        # globex's sync read every system of its account, each time with globex's key.
        assert statuses, system
        assert 401 not in statuses, system


async def test_globex_webhook_endpoints_take_globex_secrets_only(
    tenants_stack: TenantsStack,
) -> None:
    stack = tenants_stack
    body = b'{"not": "an event"}'

    async def deliver(path: str, secret: str) -> int:
        url = f"{stack.gateway_url}{path}"
        headers = signed_headers("billing", secret, url, body, time.time())
        return (await stack.http.post(url, content=body, headers=headers)).status_code

    # acme's (the default account's) secret never signs globex's events.
    assert await deliver("/webhooks/globex/billing", DEFAULT_SECRETS["billing"]) == 401
    # globex's own passes the signature (and this body is then refused as malformed).
    assert (
        await deliver("/webhooks/globex/billing", GLOBEX_ACCOUNT.webhook_secrets["billing"]) == 400
    )
    # A tenant the gateway does not serve has no endpoints.
    assert await deliver("/webhooks/initech/billing", DEFAULT_SECRETS["billing"]) == 404
