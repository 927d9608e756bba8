"""The store's migrations against a real PostgreSQL: filename order, each once, all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from app.store.customers import Store

#: The migrations the gateway ships (every one is applied at start-up).
MIGRATIONS = Path(__file__).resolve().parents[3] / "app" / "store" / "migrations"


async def test_migrate_twice_applies_nothing_the_second_time(store: Store) -> None:
    shipped = sorted(path.name for path in MIGRATIONS.glob("*.sql"))

    assert await store.migrate() == []
    assert await store.applied_migrations() == shipped
    assert shipped[0] == "001_identity.sql"


async def test_migrations_run_in_filename_order_each_once(store: Store, tmp_path: Path) -> None:
    # Written in reverse order, so that directory order cannot pass for filename order.
    (tmp_path / "200_fill.sql").write_text("insert into numbers values (1);")
    (tmp_path / "100_create.sql").write_text("create table numbers (n int);")
    (tmp_path / "notes.txt").write_text("not a migration")

    first = await store.migrate(tmp_path)
    second = await store.migrate(tmp_path)

    assert first == ["100_create.sql", "200_fill.sql"]
    assert second == []
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from numbers") == 1


async def test_concurrent_migrations_apply_each_file_once(store: Store, tmp_path: Path) -> None:
    (tmp_path / "100_create.sql").write_text("create table numbers (n int);")
    (tmp_path / "200_fill.sql").write_text("select pg_sleep(0.05); insert into numbers values (1);")

    results = await asyncio.gather(store.migrate(tmp_path), store.migrate(tmp_path))

    assert sorted(name for applied in results for name in applied) == [
        "100_create.sql",
        "200_fill.sql",
    ]
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("select count(*) from numbers") == 1


async def test_a_failing_migration_leaves_no_trace(store: Store, tmp_path: Path) -> None:
    (tmp_path / "100_broken.sql").write_text("create table half (n int); select * from nowhere;")

    with pytest.raises(asyncpg.UndefinedTableError):
        await store.migrate(tmp_path)

    assert "100_broken.sql" not in await store.applied_migrations()
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("select to_regclass('half')") is None


async def test_a_migrated_store_has_no_pending_migrations(store: Store) -> None:
    assert await store.pending_migrations() == []


async def test_migrations_not_applied_yet_are_pending(store: Store, tmp_path: Path) -> None:
    (tmp_path / "999_later.sql").write_text("select 1;")
    assert await store.pending_migrations(tmp_path) == ["999_later.sql"]
