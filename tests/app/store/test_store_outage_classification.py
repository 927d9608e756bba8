"""Which PostgreSQL failures are the store being unavailable, and which are defects."""

from __future__ import annotations

import asyncpg
import pytest

from app.store.customers import Store
from app.store.errors import store_outage


async def test_a_closed_pool_is_the_store_unavailable(database_url: str) -> None:
    store = await Store.connect(database_url, pool_size=1)
    await store.close()
    with pytest.raises(asyncpg.InterfaceError) as caught:
        await store.count_customers()
    outage = store_outage(caught.value)
    assert outage is not None
    assert outage.code == "STORE_UNAVAILABLE"


async def test_nothing_listening_is_the_store_unavailable() -> None:
    with pytest.raises(ConnectionRefusedError) as caught:
        await asyncpg.connect("postgresql://postgres@127.0.0.1:9/postgres", timeout=5)
    assert store_outage(caught.value) is not None


async def test_a_query_the_server_refuses_is_no_outage(store: Store) -> None:
    with pytest.raises(asyncpg.PostgresError) as caught:
        await store.pool.execute("SELECT * FROM no_such_table")
    assert store_outage(caught.value) is None


def test_an_os_error_outside_the_driver_is_no_outage() -> None:
    assert store_outage(FileNotFoundError("export.csv")) is None
