"""The write side of the identity store: the reads and batch writes of one identity sync.

For ``app.identity.sync.runner``: a ``SyncSession`` holds one connection (and, from
``Store.sync_session()``, the sync lock) for a whole run and writes a page of records per
transaction, with array parameters (``unnest``) rather than one round trip per record.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.store.identity import LinkConflict, PooledStore, unlinked_from, write_reviews
from app.store.sync.values import (
    DisplayName,
    LinkedRecord,
    LookupKey,
    PageWrite,
    SyncMode,
    SyncOutcome,
)
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["SyncSession", "live_session"]

# Shared with ``Store.count_customers`` (``app.store.customers`` imports it from here).
_COUNT_CUSTOMERS = "select count(*) from customers where tenant = $1"

# The sync's lookups probe the primary keys once per id of the page, in lateral subqueries
# the planner cannot turn into joins (``limit``/``offset``): a first sync grows the tables
# faster than autovacuum re-samples them, and a plan made from the old statistics (a source
# that looks absent, say) would scan every row of that source for every page.
_SELECT_LINKS_OF_RECORDS = """
select wanted.external_id, link.customer_id
  from unnest($2::text[]) as wanted (external_id)
  join lateral (
        select customer_id from identity_links
         where tenant = $3 and source = $1 and external_id = wanted.external_id
         limit 1) as link on true
"""
_SELECT_LINKED_RECORDS = """
select wanted.external_id, link.customer_id, link.display_name, link.display_rank,
       link.display_ref, key.kind, key.value
  from unnest($2::text[]) as wanted (external_id)
  join lateral (
        select l.customer_id, c.display_name, c.display_rank, c.display_ref
          from identity_links as l
          join customers as c on c.id = l.customer_id
         where l.tenant = $3 and l.source = $1 and l.external_id = wanted.external_id
         limit 1) as link on true
  left join lateral (
        select kind, value from lookup_keys
         where tenant = $3 and source = $1 and external_id = wanted.external_id
        offset 0) as key on true
"""
_SELECT_CUSTOMERS_BY_KEYS = """
select distinct k.kind, k.value, k.customer_id
  from lookup_keys as k
  join unnest($1::text[], $2::text[]) as wanted (kind, value)
    on k.kind = wanted.kind and k.value = wanted.value
 where k.tenant = $3
"""
_INSERT_CUSTOMERS = """
insert into customers (tenant, id, display_name, display_rank, display_ref, created_at,
                       updated_at)
select $6, id, display_name, display_rank, display_ref, created_at, created_at
  from unnest($1::text[], $2::text[], $3::smallint[], $4::text[], $5::timestamptz[])
       as new (id, display_name, display_rank, display_ref, created_at)
"""
# A better-ranked name replaces the current one; so does a changed value from the very
# record that supplied it. Unchanged names are not rewritten, so a second run is a no-op.
_UPDATE_DISPLAY_NAMES = """
update customers as c
   set display_name = p.name, display_rank = p.rank, display_ref = p.ref, updated_at = now()
  from unnest($1::text[], $2::text[], $3::smallint[], $4::text[]) as p (id, name, rank, ref)
 where c.id = p.id
   -- Redundant with the join, but it lets the planner reach customers by primary key
   -- rather than scanning the table for every page.
   and c.id = any($1::text[])
   and c.tenant = $5
   and (p.rank < c.display_rank
        or (p.ref = c.display_ref
            and (p.name, p.rank) is distinct from (c.display_name, c.display_rank)))
"""
_INSERT_LINKS = """
insert into identity_links (tenant, source, external_id, customer_id, matched_by, linked_at,
                            confidence, linked_via)
select $8, $1, external_id, customer_id, matched_by, linked_at, confidence, linked_via
  from unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::real[], $7::text[])
       as new (external_id, customer_id, matched_by, linked_at, confidence, linked_via)
"""
_DELETE_KEYS = """
delete from lookup_keys as k
 using unnest($2::text[], $3::text[], $4::text[]) as gone (external_id, kind, value)
 where k.tenant = $5
   and k.source = $1
   and k.external_id = gone.external_id
   and k.kind = gone.kind
   and k.value = gone.value
"""
# A conflict means the key was stored for another customer, which only a change of link
# outside the sync could cause: the key then follows the record's current customer.
_INSERT_KEYS = """
insert into lookup_keys (tenant, source, external_id, kind, value, customer_id)
select $6, $1, external_id, kind, value, customer_id
  from unnest($2::text[], $3::text[], $4::text[], $5::text[])
       as new (external_id, kind, value, customer_id)
on conflict (tenant, source, external_id, kind, value) do update
   set customer_id = excluded.customer_id
"""
_INSERT_SYNC_RUN = "insert into sync_runs (tenant, mode) values ($2, $1) returning id"
_FINISH_SYNC_RUN = """
update sync_runs set finished_at = now(), outcome = $2, counts = $3::jsonb
 where id = $1 and tenant = $4
"""


class SyncSession:
    """The reads and batch writes of one identity sync of one tenant, on the connection that
    holds its lock.

    Obtained from ``Store.sync_session()``; not to be used after that block ends.
    """

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record], tenant: TenantId) -> None:
        self._conn = conn
        self._tenant = tenant

    @property
    def tenant(self) -> TenantId:
        """The tenant whose customers this session reads and writes."""
        return self._tenant

    @property
    def connection(self) -> PoolConnectionProxy[asyncpg.Record]:
        """The connection holding the sync lock, for the sync's own tables (``sync_cursors``)."""
        return self._conn

    async def start_run(self, mode: SyncMode = "full") -> int:
        """Record that a sync started, and how (``mode``); return its ``sync_runs`` id."""
        run_id: int = await self._conn.fetchval(_INSERT_SYNC_RUN, mode, self._tenant)
        return run_id

    async def finish_run(
        self, run_id: int, outcome: SyncOutcome, counts: Mapping[str, Mapping[str, int]]
    ) -> None:
        """Record how the sync ended, with its per-source counts."""
        await self._conn.execute(
            _FINISH_SYNC_RUN, run_id, outcome, json.dumps(counts), self._tenant
        )

    async def links_for(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, CustomerId]:
        """The customers the given records of ``source`` are linked to; unlinked ones absent."""
        if not external_ids:
            return {}
        rows = await self._conn.fetch(
            _SELECT_LINKS_OF_RECORDS, source.value, list(external_ids), self._tenant
        )
        return {row["external_id"]: CustomerId(row["customer_id"]) for row in rows}

    async def linked_records(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, LinkedRecord]:
        """The given records of ``source`` that are linked, with their stored keys."""
        if not external_ids:
            return {}
        rows = await self._conn.fetch(
            _SELECT_LINKED_RECORDS, source.value, list(external_ids), self._tenant
        )
        names: dict[str, DisplayName] = {}
        keys: dict[str, set[LookupKey]] = {}
        for row in rows:
            external_id = row["external_id"]
            if external_id not in names:
                names[external_id] = DisplayName(
                    CustomerId(row["customer_id"]),
                    row["display_name"],
                    row["display_rank"],
                    row["display_ref"],
                )
                keys[external_id] = set()
            if row["kind"] is not None:
                keys[external_id].add(LookupKey(kind=row["kind"], value=row["value"]))
        return {
            external_id: LinkedRecord(name.customer_id, name, frozenset(keys[external_id]))
            for external_id, name in names.items()
        }

    async def customers_by_keys(
        self, keys: Collection[LookupKey]
    ) -> dict[LookupKey, set[CustomerId]]:
        """For each key, every customer that has it (keys nobody has are absent)."""
        if not keys:
            return {}
        kinds = [key.kind for key in keys]
        values = [key.value for key in keys]
        rows = await self._conn.fetch(_SELECT_CUSTOMERS_BY_KEYS, kinds, values, self._tenant)
        found: dict[LookupKey, set[CustomerId]] = {}
        for row in rows:
            key = LookupKey(kind=row["kind"], value=row["value"])
            found.setdefault(key, set()).add(CustomerId(row["customer_id"]))
        return found

    async def count_customers(self) -> int:
        """How many customers there are."""
        count: int = await self._conn.fetchval(_COUNT_CUSTOMERS, self._tenant)
        return count

    async def unlinked_from(
        self, source: Source, external_ids: Collection[str]
    ) -> dict[str, frozenset[CustomerId]]:
        """For each of these records that has any, the customers a person unlinked it from."""
        return await unlinked_from(self._conn, self._tenant, source, external_ids)

    async def write_page(self, page: PageWrite) -> None:
        """Write one page's customers, names, links, keys and review rows, all or nothing."""
        if not (
            page.customers
            or page.names
            or page.links
            or page.keys_added
            or page.keys_removed
            or page.reviews
        ):
            return
        conn = self._conn
        source = page.source.value
        async with conn.transaction():
            if page.customers:
                await conn.execute(
                    _INSERT_CUSTOMERS,
                    [customer.id for customer in page.customers],
                    [customer.display_name for customer in page.customers],
                    [customer.display_rank for customer in page.customers],
                    [customer.display_ref for customer in page.customers],
                    [customer.created_at for customer in page.customers],
                    self._tenant,
                )
            if page.names:
                await conn.execute(
                    _UPDATE_DISPLAY_NAMES,
                    [name.customer_id for name in page.names],
                    [name.name for name in page.names],
                    [name.rank for name in page.names],
                    [name.ref for name in page.names],
                    self._tenant,
                )
            if page.links:
                try:
                    await conn.execute(
                        _INSERT_LINKS,
                        source,
                        [link.external_id for link in page.links],
                        [link.customer_id for link in page.links],
                        [link.matched_by for link in page.links],
                        [link.linked_at for link in page.links],
                        [link.confidence for link in page.links],
                        [link.linked_via for link in page.links],
                        self._tenant,
                    )
                except asyncpg.UniqueViolationError as exc:
                    # Linked meanwhile by a live lookup (which takes no sync lock): the
                    # caller reads the page again and keeps that link.
                    raise LinkConflict(f"a {source} record was linked meanwhile") from exc
            if page.reviews:
                await write_reviews(conn, self._tenant, page.source, page.reviews)
            if page.keys_removed:
                await conn.execute(
                    _DELETE_KEYS,
                    source,
                    [row.external_id for row in page.keys_removed],
                    [row.key.kind for row in page.keys_removed],
                    [row.key.value for row in page.keys_removed],
                    self._tenant,
                )
            if page.keys_added:
                await conn.execute(
                    _INSERT_KEYS,
                    source,
                    [row.external_id for row in page.keys_added],
                    [row.key.kind for row in page.keys_added],
                    [row.key.value for row in page.keys_added],
                    [row.customer_id for row in page.keys_added],
                    self._tenant,
                )


@asynccontextmanager
async def live_session(store: PooledStore) -> AsyncIterator[SyncSession]:
    """A ``SyncSession`` for one live lookup: a pooled connection, no sync lock.

    Each ``write_page`` is its own short transaction; a link written meanwhile by a sync or
    another lookup surfaces as ``LinkConflict`` rather than as a wait.
    """
    async with store.pool.acquire() as conn:
        yield SyncSession(conn, store.tenant)
