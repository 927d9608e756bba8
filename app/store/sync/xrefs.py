"""The billing ids CRM contacts name, for the billing pass's cross-reference rule.

The CRM pass reads each contact's ``billing_customer_id``; the billing pass, later in the
same run, links a billing customer to the customer of the contact(s) naming it. Those pairs
must outlive the CRM pass, and a full sync has one per contact: kept in a dict they are
memory that grows with the number of customers (16 MB at 90,000 contacts), so the sync
keeps them in a temporary table on its own connection instead (``TableXrefs``: one
batched insert per CRM page, one select per billing page). A live lookup links a handful
of records and keeps them in memory (``MemoryXrefs``).

Either way the billing pass asks for one page's ids at a time (``load``), then reads them
synchronously while it matches (``customers``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kernel.identity import CustomerId

__all__ = ["BillingXrefs", "MemoryXrefs", "TableXrefs"]

# A temporary table lives as long as the connection, and pooled connections are reused:
# the sync drops it before and after the run (``reset``), so no run sees another's pairs.
_DROP = "drop table if exists pg_temp.sync_billing_xrefs"
_CREATE = """
create temporary table sync_billing_xrefs (
    billing_id  text not null,
    customer_id text not null,
    primary key (billing_id, customer_id)
)
"""
_INSERT = """
insert into pg_temp.sync_billing_xrefs (billing_id, customer_id)
select billing_id, customer_id from unnest($1::text[], $2::text[]) as new (billing_id, customer_id)
on conflict do nothing
"""
_SELECT = """
select billing_id, customer_id from pg_temp.sync_billing_xrefs
 where billing_id = any($1::text[])
"""


class BillingXrefs(Protocol):
    """Billing id -> the customers of the CRM contacts that name it."""

    async def remember(self, pairs: Sequence[tuple[str, CustomerId]]) -> None:
        """Pairs of one stored CRM page: (billing id, customer of the contact naming it)."""
        ...

    async def load(self, billing_ids: Collection[str]) -> None:
        """Make these ids' customers readable by ``customers`` (one billing page's)."""
        ...

    def customers(self, billing_id: str) -> set[CustomerId]:
        """The customers whose contacts name ``billing_id`` (of the ids last loaded)."""
        ...


class MemoryXrefs:
    """``BillingXrefs`` in a dict: for a live lookup's few records."""

    def __init__(self) -> None:
        self._pairs: dict[str, set[CustomerId]] = {}

    async def remember(self, pairs: Sequence[tuple[str, CustomerId]]) -> None:
        """Kept in memory."""
        for billing_id, customer in pairs:
            self._pairs.setdefault(billing_id, set()).add(customer)

    async def load(self, billing_ids: Collection[str]) -> None:
        """Nothing to load: every pair is in memory."""

    def customers(self, billing_id: str) -> set[CustomerId]:
        """From memory."""
        return set(self._pairs.get(billing_id, ()))


class TableXrefs:
    """``BillingXrefs`` in a temporary table of the sync's connection: flat memory."""

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record]) -> None:
        self._conn = conn
        self._created = False
        self._page: dict[str, set[CustomerId]] = {}

    async def reset(self) -> None:
        """Drop the table (call before and after a run: the connection goes back to a pool)."""
        await self._conn.execute(_DROP)
        self._created = False
        self._page = {}

    async def remember(self, pairs: Sequence[tuple[str, CustomerId]]) -> None:
        """One insert for the page's pairs (the table is created on first use)."""
        if not pairs:
            return
        if not self._created:
            await self._conn.execute(_DROP)
            await self._conn.execute(_CREATE)
            self._created = True
        await self._conn.execute(
            _INSERT, [billing_id for billing_id, _ in pairs], [customer for _, customer in pairs]
        )

    async def load(self, billing_ids: Collection[str]) -> None:
        """One select for the page's ids; the previous page's are forgotten."""
        self._page = {}
        if not self._created or not billing_ids:
            return
        for row in await self._conn.fetch(_SELECT, list(billing_ids)):
            self._page.setdefault(row["billing_id"], set()).add(CustomerId(row["customer_id"]))

    def customers(self, billing_id: str) -> set[CustomerId]:
        """From the page loaded last."""
        return set(self._page.get(billing_id, ()))
