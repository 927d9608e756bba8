"""The gateway's run-time PostgreSQL role: rows yes, schema no (``app.store.roles``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from app.store.migrations_runner import MigrationsRefused
from app.store.roles import embedded_store, grant_runtime_role, role_url
from app.store.sync.values import KeyRow, LookupKey, NewCustomer, NewLink, PageWrite
from kernel.identity import CustomerId
from kernel.models import Source
from tests.conftest import scratch_database

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ROLE = "scv_gateway_test"
PASSWORD = "run-time-role-test"


@pytest.fixture
async def owner_and_runtime(database_url: str) -> AsyncIterator[tuple[str, str]]:
    """A database migrated by its owner, and the URL of the run-time role granted on it."""
    async with scratch_database(database_url, "roles") as owner_url:
        owner = await Store.connect(owner_url, pool_size=1)
        try:
            await owner.migrate()
        finally:
            await owner.close()
        await grant_runtime_role(owner_url, ROLE, PASSWORD)
        yield owner_url, role_url(owner_url, ROLE, PASSWORD)


@pytest.mark.parametrize(
    "ddl",
    [
        "create table intruder (id int)",
        "alter table customers add column intruder text",
        "drop table audit_trail",
        "create index intruder_idx on customers (id)",
        "create function intruder() returns int language sql as 'select 1'",
        "truncate audit_trail",
    ],
)
async def test_the_runtime_role_cannot_change_the_schema(
    owner_and_runtime: tuple[str, str], ddl: str
) -> None:
    _, runtime_url = owner_and_runtime
    conn = await asyncpg.connect(runtime_url)
    try:
        assert await conn.fetchval("select current_user") == ROLE
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(ddl)
    finally:
        await conn.close()


async def test_the_runtime_role_reads_and_writes_rows(
    owner_and_runtime: tuple[str, str],
) -> None:
    _, runtime_url = owner_and_runtime
    store = await Store.connect(runtime_url, pool_size=2)
    try:
        # Up to date: the start-up migration is a read only.
        assert await store.migrate() == []
        ada = CustomerId("cust_ada")
        # The sync's session: an advisory lock, its temporary table, rows written.
        async with store.sync_session() as session:
            await session.write_page(
                PageWrite(
                    source=Source.CRM,
                    customers=[NewCustomer(ada, "Ada Lovelace", 0, "CRM:ada", T0)],
                    links=[NewLink("crm-1", ada, "anchor", T0)],
                    keys_added=[KeyRow("crm-1", ada, LookupKey("email", "ada@example.com"))],
                )
            )
        assert await store.find_by_source_id(Source.CRM, "crm-1") == ada
        assert await store.find_by_email("ada@example.com") == [ada]
        # The read model's full refresh analyses customer_facts through the owner's function.
        async with FactsWriter(store.pool, store.tenant).session() as refresh:
            await refresh.ensure_rows()
        async with store.pool.acquire() as conn:
            assert await conn.fetchval("select count(*) from customer_facts") == 1
    finally:
        await store.close()


async def test_tables_a_later_migration_creates_are_granted_to_the_runtime_role(
    owner_and_runtime: tuple[str, str],
) -> None:
    owner_url, runtime_url = owner_and_runtime
    owner = await asyncpg.connect(owner_url)
    runtime = await asyncpg.connect(runtime_url)
    try:
        await owner.execute("create table later_table (id bigserial primary key, note text)")
        await runtime.execute("insert into later_table (note) values ('granted')")
        assert await runtime.fetchval("select note from later_table") == "granted"
    finally:
        await runtime.close()
        await owner.close()


async def test_pending_migrations_under_the_runtime_role_are_refused_clearly(
    owner_and_runtime: tuple[str, str], tmp_path: Path
) -> None:
    _, runtime_url = owner_and_runtime
    (tmp_path / "001_later.sql").write_text("create table later_table (id int);")
    store = await Store.connect(runtime_url, pool_size=1)
    try:
        with pytest.raises(MigrationsRefused, match="scv migrate"):
            await store.migrate(tmp_path)
        async with store.pool.acquire() as conn:
            assert await conn.fetchval("select to_regclass('later_table')") is None
    finally:
        await store.close()


async def test_the_embedded_database_makes_the_owner_and_the_runtime_role(
    tmp_path: Path,
) -> None:
    urls = await embedded_store(tmp_path / "scv", default_tenant="acme")
    runtime = await asyncpg.connect(urls.runtime_url)
    try:
        assert await runtime.fetchval("select current_user") == "scv_gateway"
        assert await runtime.fetchval("select count(*) from schema_migrations") > 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await runtime.execute("create table intruder (id int)")
    finally:
        await runtime.close()
    # A second start reuses the role and its password.
    assert (
        await embedded_store(tmp_path / "scv", default_tenant="acme")
    ).runtime_url == urls.runtime_url
