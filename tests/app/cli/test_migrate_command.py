"""``scv migrate``: a deployment's migration job applies what is pending, then nothing."""

from __future__ import annotations

import pytest

from app.cli.migrate import migrate_store
from app.settings import Settings
from app.store.customers import Store
from tests.conftest import scratch_database


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SCV_"):
            monkeypatch.delenv(name)


async def test_migrate_applies_every_migration_once(database_url: str) -> None:
    async with scratch_database(database_url, "test_migrate") as url:
        settings = Settings(database_url=url)  # type: ignore[call-arg]
        applied = await migrate_store(settings)
        assert applied
        assert applied == sorted(applied)
        assert await migrate_store(settings) == []
        store = await Store.connect(url, pool_size=1)
        try:
            assert await store.pending_migrations() == []
            assert await store.applied_migrations() == applied
        finally:
            await store.close()
