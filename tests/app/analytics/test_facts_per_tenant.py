"""The read model's refresh is one tenant's: its passes join the records they stage to that
tenant's links only. Two tenants here know the same records (the same ids in the same
systems: until each has its own accounts, they share them), each linked by its own sync,
over a real PostgreSQL; refreshing one leaves the other's read model as it was."""

from __future__ import annotations

from decimal import Decimal

from app.analytics.refresh import refresh_facts
from app.analytics.settings import CustomersSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from kernel.models import Source
from kernel.tenancy import TenantId
from tests.app.analytics.facts_kit import NO_ORDERS, NOW, facts_by_crm_id, systems
from tests.builders import billing_customer

GLOBEX = TenantId("globex")


async def _facts_rows(store: Store, tenant: TenantId) -> int:
    count = await store.pool.fetchval(
        "select count(*) from customer_facts where tenant = $1", tenant
    )
    return int(count)


async def test_a_refresh_writes_its_tenants_read_model_only(store: Store) -> None:
    globex = store.for_tenant(GLOBEX)
    billing, crm, support, ivr = systems()
    adapters = {Source.BILLING: billing, Source.CRM: crm, Source.SUPPORT: support, **NO_ORDERS}
    for tenant_store in (store, globex):
        await sync_identities(tenant_store, adapters, IdentitySettings())
    settings = CustomersSettings()

    await refresh_facts(
        FactsWriter(store.pool, store.tenant),
        billing,
        crm,
        support,
        ivr,
        settings,
        "GB",
        clock=lambda: NOW,
    )

    # The same record ids are linked in globex, and globex's read model is untouched.
    assert await _facts_rows(store, store.tenant) == 3
    assert await _facts_rows(store, GLOBEX) == 0
    acme_ada = (await facts_by_crm_id(store))["c-ada"]
    assert acme_ada.balance == Decimal("42.50")

    # globex's refresh reads its (changed) records: acme's facts of the same ids stay.
    billing.customers["cus_ada"] = billing_customer("cus_ada", balance="7", delinquent=False)
    await refresh_facts(
        FactsWriter(store.pool, GLOBEX),
        billing,
        crm,
        support,
        ivr,
        settings,
        "GB",
        clock=lambda: NOW,
    )

    assert await _facts_rows(store, GLOBEX) == 3
    assert (await facts_by_crm_id(store))["c-ada"].balance == Decimal("42.50")
    globex_ada = await store.pool.fetchval(
        "select f.balance from customer_facts f join identity_links l"
        " on l.customer_id = f.customer_id and l.tenant = f.tenant"
        " where f.tenant = $1 and l.source = 'CRM' and l.external_id = 'c-ada'",
        GLOBEX,
    )
    assert globex_ada == Decimal("7")
