"""Least privilege for the gateway's own PostgreSQL: the owner migrates, the run-time role
only reads and writes rows.

Two roles touch the store. The *owner* (the role of ``SCV_DATABASE_MIGRATION_URL``, or of
``scv migrate --url``) creates and alters the schema; only ``scv migrate`` uses it. The
*run-time* role (the role of ``SCV_DATABASE_URL``) is what every gateway process, ``scv
sync`` and the workers connect as: it may connect, use the schema and the database's
temporary tables (the sync stages its pages in them), and SELECT, INSERT, UPDATE and DELETE
rows, and use the sequences; it may not CREATE, ALTER or DROP anything in the schema.
Tables a later migration creates are granted to it as they appear (``ALTER DEFAULT
PRIVILEGES`` for the owner), so a new migration needs no grant of its own.

``grant_runtime_role`` makes that role (or gives an existing one exactly these rights); the
embedded demo database calls it at every start (``app.store.embedded``), and a deployment
runs the same statements once, as docs/key-rotation.md shows. Role and database names
are identifiers, quoted by PostgreSQL's own ``quote_ident``; the password is a value, quoted
by ``quote_literal``: nothing here is formatted in by hand.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

from app.store import migrations_runner
from app.store.embedded import start_embedded_postgres

__all__ = ["RUNTIME_ROLE", "EmbeddedStore", "embedded_store", "grant_runtime_role", "role_url"]

#: The run-time role the embedded demo database makes.
RUNTIME_ROLE = "scv_gateway"
#: Where the embedded database keeps that role's password (beside its data, owner-only).
RUNTIME_PASSWORD_FILE = "pg-gateway-role-password"

_ROLE_EXISTS = "select exists (select from pg_roles where rolname = $1)"
_IDENTIFIERS = "select quote_ident($1), quote_ident(current_database()), quote_ident(current_user)"
_PASSWORD = "select quote_literal($1)"

#: The statements that give the run-time role ``{role}`` its rights and nothing more, as the
#: owner ``{owner}`` of database ``{database}``'s public schema runs them.
_GRANTS = (
    # No DDL: nobody but the owner creates in the public schema (PostgreSQL 15's default,
    # said again for servers upgraded from older ones).
    "revoke create on schema public from public",
    "grant connect, temporary on database {database} to {role}",
    "grant usage on schema public to {role}",
    "grant select, insert, update, delete on all tables in schema public to {role}",
    "grant usage, select, update on all sequences in schema public to {role}",
    "grant execute on all functions in schema public to {role}",
    "alter default privileges for role {owner} in schema public "
    "grant select, insert, update, delete on tables to {role}",
    "alter default privileges for role {owner} in schema public "
    "grant usage, select, update on sequences to {role}",
)


async def grant_runtime_role(owner_url: str, role: str, password: str) -> None:
    """Make ``role`` (LOGIN, no superuser, no CREATEDB, no CREATEROLE) with ``password``,
    and grant it row access to the store at ``owner_url``; run as the schema's owner."""
    conn = await asyncpg.connect(owner_url)
    try:
        async with conn.transaction():
            names = await conn.fetchrow(_IDENTIFIERS, role)
            assert names is not None  # a select without a from has its one row
            quoted_role, database, owner = names
            literal = await conn.fetchval(_PASSWORD, password)
            verb = "alter" if await conn.fetchval(_ROLE_EXISTS, role) else "create"
            await conn.execute(
                f"{verb} role {quoted_role} login nosuperuser nocreatedb nocreaterole "
                f"noinherit password {literal}"
            )
            for statement in _GRANTS:
                await conn.execute(
                    statement.format(role=quoted_role, database=database, owner=owner)
                )
    finally:
        await conn.close()


def role_url(server_url: str, role: str, password: str) -> str:
    """``server_url`` (host, socket, database and options kept) as ``role`` with ``password``."""
    parts = urlsplit(server_url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True, slots=True)
class EmbeddedStore:
    """The embedded PostgreSQL's two URLs: its owner's (migrations, the sandbox's databases)
    and the run-time role's (everything else)."""

    owner_url: str
    runtime_url: str


async def embedded_store(data_dir: Path, *, default_tenant: str) -> EmbeddedStore:
    """Start (or reuse) the embedded server under ``data_dir``, migrate it as its owner (rows
    from before tenancy being ``default_tenant``'s), and
    make the run-time role (``RUNTIME_ROLE``, its password generated once and kept under
    ``data_dir``); both URLs."""
    owner_url = await asyncio.to_thread(start_embedded_postgres, data_dir)
    pool = await asyncpg.create_pool(owner_url, min_size=1, max_size=1)
    try:
        await migrations_runner.migrate(pool, default_tenant=default_tenant)
    finally:
        await pool.close()
    password = await asyncio.to_thread(_runtime_password, data_dir)
    await grant_runtime_role(owner_url, RUNTIME_ROLE, password)
    return EmbeddedStore(owner_url, role_url(owner_url, RUNTIME_ROLE, password))


def _runtime_password(data_dir: Path) -> str:
    path = data_dir.resolve() / RUNTIME_PASSWORD_FILE
    if not path.exists():
        # Owner-only before it is written, as the demo's signing keys.
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()
