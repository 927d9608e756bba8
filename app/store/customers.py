"""The identity store: customers, their links to each system, and lookup keys, in PostgreSQL.

``Store`` implements ``kernel.identity.IdentityStore`` (the read side the graph needs)
over an ``asyncpg`` pool, and owns its schema: ``migrate()`` applies the ``.sql`` files of
``app/store/migrations`` (``app.store.migrations_runner``). The write side is for
``app.identity.sync.runner``: ``sync_session()`` holds one connection and the sync lock for a whole
run (``app.store.sync.session.SyncSession``). The store also keeps the IVR interactions
(``InteractionRows``, their rows and SQL in ``app.store.interactions``) and reads back the
sync runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Self

import asyncpg

from app.store import migrations_runner
from app.store.interactions import InteractionRows
from app.store.session_state import _SYNC_LOCK, _changing_session_state, _session_state_unchanged
from app.store.sync.session import _COUNT_CUSTOMERS, SyncSession
from app.store.sync.values import KeyKind, SyncRun
from app.tenancy.settings import DEFAULT_TENANT
from kernel.identity import CustomerId, CustomerRecord, IdentityLink
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["Store"]

_PING = "select 1"

# One round trip: a row per link (a customer without links has one, its link columns null).
_SELECT_CUSTOMERS_WITH_LINKS = """
select c.id, c.display_name,
       l.source, l.external_id, l.matched_by, l.confidence, l.linked_via, l.linked_at
  from customers as c
  left join identity_links as l on l.customer_id = c.id
 where c.id = any($1::text[]) and c.tenant = $2
 order by c.id, l.linked_at, l.source, l.external_id
"""
_FIND_BY_KEY = """
select c.id
  from customers as c
 where exists (
        select 1 from lookup_keys as k
         where k.tenant = $3 and k.kind = $1 and k.value = $2 and k.customer_id = c.id)
   and c.tenant = $3
 order by c.created_at, c.id
"""
# The oldest customer with a key and its links, in one round trip (a row per link).
_FIRST_BY_KEY_WITH_LINKS = """
with first as (
    select c.id, c.display_name
      from customers as c
     where exists (
            select 1 from lookup_keys as k
             where k.tenant = $3 and k.kind = $1 and k.value = $2 and k.customer_id = c.id)
       and c.tenant = $3
     order by c.created_at, c.id
     limit 1)
select first.id, first.display_name,
       l.source, l.external_id, l.matched_by, l.confidence, l.linked_via, l.linked_at
  from first
  left join identity_links as l on l.customer_id = first.id
 order by l.linked_at, l.source, l.external_id
"""
_FIND_BY_SOURCE_ID = """
select customer_id from identity_links where tenant = $3 and source = $1 and external_id = $2
"""
_COUNT_SYNC_RUNS = """
select outcome, count(*) as runs from sync_runs where tenant = $1 group by outcome
"""
_SELECT_LATEST_SYNC_RUN = """
select id, started_at, finished_at, outcome, counts::text as counts, mode
  from sync_runs
 where tenant = $1
 order by id desc
 limit 1
"""


def _records_from_rows(rows: Sequence[asyncpg.Record]) -> dict[CustomerId, CustomerRecord]:
    """Customers with their links from rows of ``_SELECT_CUSTOMERS_WITH_LINKS`` (a row per
    link, link columns null for a customer without any), in the rows' order."""
    names: dict[str, str] = {}
    links_by_customer: dict[str, list[IdentityLink]] = {}
    for row in rows:
        names[row["id"]] = row["display_name"]
        if row["source"] is None:
            continue
        links_by_customer.setdefault(row["id"], []).append(
            IdentityLink(
                source=Source(row["source"]),
                external_id=row["external_id"],
                matched_by=row["matched_by"],
                # Stored as a 4-byte real: 0.9 reads back as 0.8999999761...
                confidence=round(row["confidence"], 4),
                linked_via=row["linked_via"],
                linked_at=row["linked_at"],
            )
        )
    return {
        CustomerId(customer_id): CustomerRecord(
            id=CustomerId(customer_id),
            display_name=name,
            links=tuple(links_by_customer.get(customer_id, ())),
        )
        for customer_id, name in names.items()
    }


class Store(InteractionRows):
    """Customers, identity links and lookup keys in PostgreSQL (an ``IdentityStore``), of one
    tenant.

    Every read and write of the store is its tenant's (``tenant``): another tenant's
    customer is as absent as one that does not exist. ``for_tenant`` gives the same pool
    seen as another tenant's store; the store a process connects is its default tenant's
    (``SCV_TENANCY__DEFAULT_TENANT``), and migrations run through it (rows stored before
    tenancy are that tenant's, migration 016).
    """

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId = DEFAULT_TENANT
    ) -> None:
        self._pool = pool
        self._tenant = tenant

    @classmethod
    async def connect(
        cls, url: str, pool_size: int = 10, tenant: TenantId = DEFAULT_TENANT
    ) -> Self:
        """A store of ``tenant`` over a new pool of at most ``pool_size`` connections to
        ``url``."""
        pool = await asyncpg.create_pool(
            url, min_size=1, max_size=pool_size, reset=_session_state_unchanged
        )
        return cls(pool, tenant)

    @property
    def tenant(self) -> TenantId:
        """The tenant whose rows this store reads and writes."""
        return self._tenant

    def for_tenant(self, tenant: TenantId) -> Self:
        """The store of ``tenant``, on this store's pool (closing either closes both)."""
        return self if tenant == self._tenant else type(self)(self._pool, tenant)

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The pool the store runs on (for health checks; queries belong in the store)."""
        return self._pool

    async def close(self) -> None:
        """Close the pool, waiting for connections in use to be released."""
        await self._pool.close()

    # -- schema ----------------------------------------------------------------------------

    async def migrate(self, directory: Path | Traversable | None = None) -> list[str]:
        """Apply the migrations not applied yet; return their names, in the order applied.

        ``directory`` defaults to ``app/store/migrations``. Files (``*.sql``) run in filename
        order, each in its own transaction together with its ``schema_migrations`` row, while
        an advisory lock keeps a second process starting at the same time waiting rather than
        applying them twice. Running it again applies nothing.
        """
        return await migrations_runner.migrate(self._pool, directory, default_tenant=self._tenant)

    async def applied_migrations(self) -> list[str]:
        """The names of the migrations applied to this database, in filename order."""
        return await migrations_runner.applied_migrations(self._pool)

    async def ping(self, within_seconds: float = 1.0) -> bool:
        """Whether the database answers ``select 1`` within ``within_seconds``.

        Any failure (closed pool, refused connection, timeout) is an answer, not an error:
        readiness checks ask this and must not raise.
        """
        try:
            async with asyncio.timeout(within_seconds):
                async with self._pool.acquire() as conn:
                    return bool(await conn.fetchval(_PING) == 1)
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def pending_migrations(self, directory: Path | Traversable | None = None) -> list[str]:
        """The migrations of ``directory`` (default ``app/store/migrations``) not applied yet."""
        return await migrations_runner.pending_migrations(self._pool, directory)

    # -- IdentityStore -------------------------------------------------------------------

    async def get_customers(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerRecord]:
        """The customers with these ids, with their links; unknown ids are absent."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT_CUSTOMERS_WITH_LINKS, wanted, self._tenant)
        return _records_from_rows(rows)

    async def first_by_phone(self, e164: str) -> CustomerRecord | None:
        """The oldest customer with this E.164 phone, with its links (one round trip)."""
        return await self._first_by_key("phone", e164)

    async def first_by_email(self, email: str) -> CustomerRecord | None:
        """The oldest customer with this normalised email, with its links (one round trip)."""
        return await self._first_by_key("email", email)

    async def _first_by_key(self, kind: KeyKind, value: str) -> CustomerRecord | None:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_FIRST_BY_KEY_WITH_LINKS, kind, value, self._tenant)
        return next(iter(_records_from_rows(rows).values()), None)

    async def find_by_phone(self, e164: str) -> list[CustomerId]:
        """Customers with this E.164 phone in any system, oldest customer first."""
        return await self._find_by_key("phone", e164)

    async def find_by_email(self, email: str) -> list[CustomerId]:
        """Customers with this normalised email in any system, oldest customer first."""
        return await self._find_by_key("email", email)

    async def find_by_source_id(self, source: Source, external_id: str) -> CustomerId | None:
        """The customer linked to this record of ``source``, if any."""
        async with self._pool.acquire() as conn:
            found: str | None = await conn.fetchval(
                _FIND_BY_SOURCE_ID, source.value, external_id, self._tenant
            )
        return None if found is None else CustomerId(found)

    async def _find_by_key(self, kind: KeyKind, value: str) -> list[CustomerId]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_FIND_BY_KEY, kind, value, self._tenant)
        return [CustomerId(row["id"]) for row in rows]

    # -- operations ------------------------------------------------------------------------

    async def count_customers(self) -> int:
        """How many customers there are."""
        async with self._pool.acquire() as conn:
            count: int = await conn.fetchval(_COUNT_CUSTOMERS, self._tenant)
        return count

    async def count_sync_runs(self) -> dict[str, int]:
        """How many identity sync runs the store records, by outcome."""
        rows = await self._pool.fetch(_COUNT_SYNC_RUNS, self._tenant)
        return {row["outcome"]: row["runs"] for row in rows}

    async def latest_sync_run(self) -> SyncRun | None:
        """The most recently started identity sync, finished or not."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_SELECT_LATEST_SYNC_RUN, self._tenant)
        if row is None:
            return None
        return SyncRun(
            id=row["id"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            outcome=row["outcome"],
            counts=json.loads(row["counts"]),
            mode=row["mode"],
        )

    @asynccontextmanager
    async def sync_session(self) -> AsyncIterator[SyncSession]:
        """One connection holding the sync lock, for the whole of one identity sync.

        A second sync (another process, or another task) waits here until the first ends.
        """
        # The connection is reset before it goes back (pg_advisory_unlock_all and RESET ALL),
        # or closed, should the explicit unlock not get to run.
        async with _changing_session_state(self._pool) as conn:
            await conn.execute("select pg_advisory_lock($1)", _SYNC_LOCK)
            # A plan per execution, from the page's own ids: a generic plan cached while the
            # tables were empty would go on scanning them as they grow to full size.
            await conn.execute("set plan_cache_mode = force_custom_plan")
            try:
                yield SyncSession(conn, self._tenant)
            finally:
                await conn.execute("select pg_advisory_unlock($1)", _SYNC_LOCK)
