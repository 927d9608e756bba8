"""Fixtures shared by the whole suite: a real PostgreSQL, and a fresh migrated store per test.

``SCV_TEST_DATABASE_URL`` names a server to use (its user must be allowed to create
databases); without it the embedded ``pgserver`` runs in a temporary directory for the
session and stops when the session ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from kernel.identity import CustomerRecord
from kernel.models import Source

# The identifier is quoted by the server (format's %I), so no name is ever pasted into SQL.
_CREATE_DATABASE = "select format('create database %I', $1::text)"
_DROP_DATABASE = "select format('drop database if exists %I with (force)', $1::text)"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL of a PostgreSQL server for the session: SCV_TEST_DATABASE_URL, or embedded."""
    configured = os.environ.get("SCV_TEST_DATABASE_URL")
    if configured:
        return configured
    data_dir: Path = tmp_path_factory.mktemp("postgres")
    return start_embedded_postgres(data_dir)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated ``Store`` on a database of its own, created for the test and then dropped."""
    async with scratch_database(database_url, "test") as url:
        store = await Store.connect(url, pool_size=4)
        try:
            await store.migrate()
            yield store
        finally:
            await store.close()


@asynccontextmanager
async def scratch_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a new database on ``server_url`` (named ``prefix`` and a random suffix),
    dropped when the block ends, however it ends."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    await _admin(server_url, _CREATE_DATABASE, name)
    try:
        yield database_url_for(server_url, name)
    finally:
        await _admin(server_url, _DROP_DATABASE, name)


async def customer_of(store: Store, source: Source, external_id: str) -> CustomerRecord:
    """The customer a record of ``source`` is linked to (the test fails if it is not)."""
    customer_id = await store.find_by_source_id(source, external_id)
    assert customer_id is not None, f"{source} {external_id} is not linked"
    return (await store.get_customers([customer_id]))[customer_id]


def database_url_for(server_url: str, database: str) -> str:
    """``server_url`` with its database replaced by ``database`` (host, socket, query kept)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def _admin(server_url: str, statement_sql: str, database: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        statement: str = await conn.fetchval(statement_sql, database)
        await conn.execute(statement)
    finally:
        await conn.close()
