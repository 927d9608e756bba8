"""The store's schema: the ``.sql`` files of ``app/store/migrations``, each applied once.

``migrate`` applies the files in filename order, each in its own transaction, and records
them in ``schema_migrations``, while an advisory lock keeps a second process starting at the
same time waiting rather than applying them twice. ``Store.migrate``,
``Store.applied_migrations`` and ``Store.pending_migrations`` run these on the store's pool.
"""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

import asyncpg

from app.store.session_state import _MIGRATIONS_LOCK, _changing_session_state

__all__ = ["MigrationsRefused", "applied_migrations", "migrate", "pending_migrations"]

# Found next to this module rather than by package name: under pytest, ``tests/app`` can
# pass for a namespace package ``app`` and would be searched instead.
_MIGRATIONS = Path(__file__).with_name("migrations")

_CREATE_SCHEMA_MIGRATIONS = """
create table if not exists schema_migrations (
    version    text primary key,
    applied_at timestamptz not null default now()
)
"""
_SELECT_APPLIED = "select version from schema_migrations order by version"
_INSERT_APPLIED = "insert into schema_migrations (version) values ($1)"
_MIGRATIONS_TABLE_EXISTS = "select to_regclass('schema_migrations') is not null"
# For this transaction only (``true``): the next migration sets it again.
_SET_DEFAULT_TENANT = "select set_config('scv.default_tenant', $1, true)"


class MigrationsRefused(RuntimeError):
    """Migrations are pending and this role may not apply them (the run-time role has no
    DDL rights): ``scv migrate`` applies them with the owner's URL."""


def _read_migrations(directory: Path | Traversable) -> list[tuple[str, str]]:
    """The ``*.sql`` files of ``directory`` as (file name, text), in file name order."""
    entries = [entry for entry in directory.iterdir() if entry.name.endswith(".sql")]
    return [
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in sorted(entries, key=lambda entry: entry.name)
    ]


async def migrate(
    pool: asyncpg.Pool[asyncpg.Record],
    directory: Path | Traversable | None = None,
    *,
    default_tenant: str,
) -> list[str]:
    """Apply the migrations of ``directory`` not applied yet (``Store.migrate``).

    Each runs with the transaction's setting ``scv.default_tenant``: the tenant that rows
    stored before tenancy belong to is configuration, never written in a migration.

    Nothing pending: no statement but a read, so the run-time role (no DDL rights,
    ``app.store.roles``) starts against an up-to-date schema. Pending, under a role that
    may not apply them: ``MigrationsRefused``, naming the first one and what to run.
    """
    migrations = _read_migrations(directory or _MIGRATIONS)
    pending = await pending_migrations(pool, directory)
    if not pending:
        return []
    try:
        return await _apply(pool, migrations, default_tenant)
    except asyncpg.InsufficientPrivilegeError as exc:
        raise MigrationsRefused(
            f"{len(pending)} migration(s) pending, from {pending[0]}, and the database role "
            "may not apply them: run `scv migrate` with the schema owner's URL "
            "(SCV_DATABASE_MIGRATION_URL or --url) first"
        ) from exc


async def _apply(
    pool: asyncpg.Pool[asyncpg.Record], migrations: list[tuple[str, str]], default_tenant: str
) -> list[str]:
    applied: list[str] = []
    async with _changing_session_state(pool) as conn:
        await conn.execute("select pg_advisory_lock($1)", _MIGRATIONS_LOCK)
        try:
            await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
            done = {row["version"] for row in await conn.fetch(_SELECT_APPLIED)}
            for version, sql in migrations:
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(_SET_DEFAULT_TENANT, default_tenant)
                    await conn.execute(sql)
                    await conn.execute(_INSERT_APPLIED, version)
                applied.append(version)
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _MIGRATIONS_LOCK)
    return applied


async def applied_migrations(pool: asyncpg.Pool[asyncpg.Record]) -> list[str]:
    """The names of the migrations applied (``Store.applied_migrations``)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_SELECT_APPLIED)
    return [row["version"] for row in rows]


async def pending_migrations(
    pool: asyncpg.Pool[asyncpg.Record], directory: Path | Traversable | None = None
) -> list[str]:
    """The migrations of ``directory`` not applied yet (``Store.pending_migrations``)."""
    known = [version for version, _ in _read_migrations(directory or _MIGRATIONS)]
    async with pool.acquire() as conn:
        exists = await conn.fetchval(_MIGRATIONS_TABLE_EXISTS)
        done = {row["version"] for row in await conn.fetch(_SELECT_APPLIED)} if exists else set()
    return [version for version in known if version not in done]
