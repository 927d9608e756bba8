"""The records the sync's records name, for the cross-reference rule of the source named.

A record can name a record of another source (a CRM contact its billing customer id). When
the named source's pass comes later in the same run, its records join the customer of the
record(s) naming them. The pairs (named source, named id, customer of the naming record)
must outlive the naming source's pass, and a full sync has one per record: kept in a dict
they are memory that grows with the number of customers (16 MB at 90,000 contacts), so the
sync keeps them in a temporary table on its own connection instead (``TableXrefs``: one
batched insert per page that names records, one select per page of the named source). A
live lookup links a handful of records and keeps them in memory (``MemoryXrefs``).

Either way the named source's pass asks for one page's ids at a time (``load``), then reads
them synchronously while it matches (``customers``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kernel.identity import CustomerId
from kernel.models import Source

__all__ = ["MemoryXrefs", "TableXrefs", "Xrefs"]

#: A named record, and the customer of a record naming it.
XrefPair = tuple[Source, str, CustomerId]

# A temporary table lives as long as the connection, and pooled connections are reused:
# the sync drops it before and after the run (``reset``), so no run sees another's pairs.
_DROP = "drop table if exists pg_temp.sync_xrefs"
_CREATE = """
create temporary table sync_xrefs (
    source      text not null,
    record_id   text not null,
    customer_id text not null,
    primary key (source, record_id, customer_id)
)
"""
_INSERT = """
insert into pg_temp.sync_xrefs (source, record_id, customer_id)
select source, record_id, customer_id
  from unnest($1::text[], $2::text[], $3::text[]) as new (source, record_id, customer_id)
on conflict do nothing
"""
_SELECT = """
select record_id, customer_id from pg_temp.sync_xrefs
 where source = $1 and record_id = any($2::text[])
"""


class Xrefs(Protocol):
    """Named record -> the customers of the records that name it."""

    async def remember(self, pairs: Sequence[XrefPair]) -> None:
        """Pairs of one stored page: (named source, named id, customer of the naming record)."""
        ...

    async def load(self, source: Source, record_ids: Collection[str]) -> None:
        """Make these records' customers readable by ``customers`` (one page's of ``source``)."""
        ...

    def customers(self, source: Source, record_id: str) -> set[CustomerId]:
        """The customers whose records name this one (of the ids last loaded)."""
        ...


class MemoryXrefs:
    """``Xrefs`` in a dict: for a live lookup's few records."""

    def __init__(self) -> None:
        self._pairs: dict[tuple[Source, str], set[CustomerId]] = {}

    async def remember(self, pairs: Sequence[XrefPair]) -> None:
        """Kept in memory."""
        for source, record_id, customer in pairs:
            self._pairs.setdefault((source, record_id), set()).add(customer)

    async def load(self, source: Source, record_ids: Collection[str]) -> None:
        """Nothing to load: every pair is in memory."""

    def customers(self, source: Source, record_id: str) -> set[CustomerId]:
        """From memory."""
        return set(self._pairs.get((source, record_id), ()))


class TableXrefs:
    """``Xrefs`` in a temporary table of the sync's connection: flat memory."""

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record]) -> None:
        self._conn = conn
        self._created = False
        self._page: dict[tuple[Source, str], set[CustomerId]] = {}

    async def reset(self) -> None:
        """Drop the table (call before and after a run: the connection goes back to a pool)."""
        await self._conn.execute(_DROP)
        self._created = False
        self._page = {}

    async def remember(self, pairs: Sequence[XrefPair]) -> None:
        """One insert for the page's pairs (the table is created on first use)."""
        if not pairs:
            return
        if not self._created:
            await self._conn.execute(_DROP)
            await self._conn.execute(_CREATE)
            self._created = True
        await self._conn.execute(
            _INSERT,
            [source.value for source, _, _ in pairs],
            [record_id for _, record_id, _ in pairs],
            [customer for _, _, customer in pairs],
        )

    async def load(self, source: Source, record_ids: Collection[str]) -> None:
        """One select for the page's ids; the previous page's are forgotten."""
        self._page = {}
        if not self._created or not record_ids:
            return
        for row in await self._conn.fetch(_SELECT, source.value, list(record_ids)):
            self._page.setdefault((source, row["record_id"]), set()).add(
                CustomerId(row["customer_id"])
            )

    def customers(self, source: Source, record_id: str) -> set[CustomerId]:
        """From the page loaded last."""
        return set(self._page.get((source, record_id), ()))
