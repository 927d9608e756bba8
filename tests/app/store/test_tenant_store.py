"""The store is tenant-scoped: each tenant's customers, links and keys are its own, the same
person known to two tenants is two customers, and rows from before tenancy are the
configured default tenant's (migration 016)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.identity import IdentityDecisionStore
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.tenancy import TenantId
from tests.conftest import scratch_database
from tests.fake_systems import named_customers

MIGRATIONS = Path(__file__).resolve().parents[3] / "app" / "store" / "migrations"
ACME, GLOBEX = TenantId("acme"), TenantId("globex")
ADA = "ada.lovelace@example.com"
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def sync(store: Store) -> None:
    await sync_identities(store, named_customers().by_source, IdentitySettings(), now=lambda: AT)


async def test_the_same_person_in_two_tenants_is_two_customers(store: Store) -> None:
    acme, globex = store.for_tenant(ACME), store.for_tenant(GLOBEX)
    await sync(acme)
    await sync(globex)

    in_acme, in_globex = await acme.first_by_email(ADA), await globex.first_by_email(ADA)
    assert in_acme is not None
    assert in_globex is not None
    assert in_acme.id != in_globex.id
    # Each customer links its own tenant's records, never the other's.
    assert {link.external_id for link in in_acme.links} == {
        link.external_id for link in in_globex.links
    }
    assert await acme.count_customers() == await globex.count_customers() > 0
    acme_ids = set(await acme.find_by_email(ADA))
    assert acme_ids.isdisjoint(await globex.find_by_email(ADA))


async def test_another_tenants_customer_is_as_absent_as_a_missing_one(store: Store) -> None:
    acme, globex = store.for_tenant(ACME), store.for_tenant(GLOBEX)
    await sync(acme)
    ada = await acme.first_by_email(ADA)
    assert ada is not None
    crm = ada.link_for(Source.CRM)
    assert crm is not None

    assert await globex.get_customers([ada.id]) == {}
    assert await globex.first_by_email(ADA) is None
    assert await globex.find_by_email(ADA) == []
    assert await globex.find_by_source_id(Source.CRM, crm.external_id) is None
    assert await globex.count_customers() == 0
    assert await globex.latest_sync_run() is None
    assert await acme.find_by_source_id(Source.CRM, crm.external_id) == ada.id


async def test_a_decision_cannot_reach_another_tenants_customer(store: Store) -> None:
    acme, globex = store.for_tenant(ACME), store.for_tenant(GLOBEX)
    await sync(acme)
    await sync(globex)
    ada = await acme.first_by_email(ADA)
    assert ada is not None
    crm = ada.link_for(Source.CRM)
    assert crm is not None
    decisions = IdentityDecisionStore(globex, lambda source, ref: (ref, 9))

    # Globex's own CRM record with the same id cannot be moved to acme's customer.
    refused = await decisions.link(Source.CRM, crm.external_id, ada.id, "why", "sup-1")
    unlinked = await decisions.unlink(
        Source.CRM, crm.external_id, ada.id, CustomerId("cust_new"), "why", "sup-1"
    )

    assert (refused, unlinked) == ("unknown_customer", "not_linked_there")
    assert (await acme.first_by_email(ADA)) == ada


async def test_rows_from_before_tenancy_are_the_configured_default_tenants(
    database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for migration in sorted(MIGRATIONS.glob("*.sql")):
        if migration.name < "016":
            shutil.copy(migration, before / migration.name)
    async with scratch_database(database_url, "tenants") as url:
        # Not acme: the default tenant is configuration, never written in the migration.
        store = await Store.connect(url, pool_size=2, tenant=TenantId("initech"))
        try:
            await store.migrate(before)
            async with store.pool.acquire() as conn:
                await conn.execute(
                    "insert into customers (id, display_name, display_rank, display_ref)"
                    " values ('cust_old', 'Old Customer', 0, 'CRM:1')"
                )
                await conn.execute(
                    "insert into identity_links (source, external_id, customer_id, matched_by)"
                    " values ('CRM', '1', 'cust_old', 'anchor')"
                )
                await conn.execute(
                    "insert into lookup_keys (kind, value, customer_id, source, external_id)"
                    " values ('email', 'old@example.com', 'cust_old', 'CRM', '1')"
                )
            assert await store.migrate() == [
                path.name for path in sorted(MIGRATIONS.glob("*.sql")) if path.name >= "016"
            ]
            old = await store.first_by_email("old@example.com")
            assert old is not None
            assert old.id == "cust_old"
            assert await store.for_tenant(ACME).first_by_email("old@example.com") is None
            async with store.pool.acquire() as conn:
                tenants = await conn.fetchval(
                    "select array_agg(distinct tenant) from (select tenant from customers"
                    " union all select tenant from identity_links"
                    " union all select tenant from lookup_keys) as rows"
                )
            assert tenants == ["initech"]
        finally:
            await store.close()
