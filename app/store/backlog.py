"""The open-ticket backlog and its daily trend (``ticket_backlog``, ``ticket_backlog_daily``
of ``014_source_rollout.sql``), for the integration KPIs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

import asyncpg

from kernel.models import FINISHED_TICKET_STATUSES, Source, Ticket
from kernel.tenancy import TenantId

__all__ = ["AGE_BUCKETS", "NO_BACKLOG", "BacklogPass", "TicketBacklogStore"]

#: The age buckets, youngest first: under a day, 1-3 days, 3-7 days, over 7 days.
AGE_BUCKETS = ("UNDER_1D", "D1_3", "D3_7", "OVER_7D")

_DELETE = "delete from ticket_backlog where tenant = $2 and source = $1"
_INSERT = """
insert into ticket_backlog (source, ticket_id, status, created_at, tenant)
select $1, id, status, created_at, $5
  from unnest($2::text[], $3::text[], $4::timestamptz[]) as t (id, status, created_at)
on conflict (tenant, source, ticket_id) do update
   set status = excluded.status, created_at = excluded.created_at
"""
_COUNT = """
select status, ticket_age_bucket($1::timestamptz - created_at) as age_bucket,
       count(*)::int as tickets
  from ticket_backlog
 where $2::text is null or tenant = $2
 group by 1, 2
"""
# The day's row is the tenant's whole backlog at $1, whichever source changed it last; a ticket
# opened after $1 (by its system's clock) was not open then.
_UPSERT_DAY = """
insert into ticket_backlog_daily (day, status, age_bucket, tickets, tenant)
select ($1::timestamptz at time zone 'UTC')::date, status,
       ticket_age_bucket($1::timestamptz - created_at), count(*)::int, $2
  from ticket_backlog
 where created_at <= $1::timestamptz and tenant = $2
 group by 2, 3
on conflict (day, status, age_bucket, tenant) do update set tickets = excluded.tickets
"""
# Rewriting a day's rows is delete then insert: two at once (a refresh and a webhook, or two
# webhooks) would each write the rows their own snapshot saw. One at a time, for this table.
_LOCK_DAYS = "select pg_advisory_xact_lock(hashtext('ticket_backlog_daily'))"
_FORGET = """
delete from ticket_backlog where tenant = $3 and source = $1 and ticket_id = any($2::text[])
"""
_CLEAR_DAY = (
    "delete from ticket_backlog_daily"
    " where day = ($1::timestamptz at time zone 'UTC')::date and tenant = $2"
)
# One tenant's days, or (tenant null) every tenant's added up: the platform total.
_DAILY = """
select day, status, age_bucket, sum(tickets)::int as tickets from ticket_backlog_daily
 where day >= $1 and ($2::text is null or tenant = $2)
 group by day, status, age_bucket
 order by day, status, age_bucket
"""


class TicketBacklogStore:
    """Replaces a source's open tickets of ``tenant`` after a refresh, or follows some that
    changed; reads the backlog and its trend (``tenant`` None: every tenant's added up, the
    platform total, and nothing to write)."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId | None) -> None:
        self._pool = pool
        self._tenant = tenant

    def scoped(self, tenant: TenantId | None) -> TicketBacklogStore:
        """The same backlog, of ``tenant`` (None: the platform total)."""
        return TicketBacklogStore(self._pool, tenant)

    def _writer(self) -> TenantId:
        if self._tenant is None:
            raise ValueError("a backlog is written for one tenant")
        return self._tenant

    async def replace(
        self,
        source: str,
        open_tickets: Sequence[tuple[str, str, datetime]],
        taken_at: datetime,
    ) -> None:
        """``source``'s open tickets (id, canonical status, created) are now these; today's
        trend row is written anew from them, in the same transaction."""
        tenant = self._writer()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_DELETE, source, tenant)
            await conn.execute(
                _INSERT,
                source,
                [ticket_id for ticket_id, _, _ in open_tickets],
                [status for _, status, _ in open_tickets],
                [created for _, _, created in open_tickets],
                tenant,
            )
            await conn.execute(_LOCK_DAYS)
            await conn.execute(_CLEAR_DAY, taken_at, tenant)
            await conn.execute(_UPSERT_DAY, taken_at, tenant)

    async def follow(
        self,
        source: str,
        open_tickets: Sequence[tuple[str, str, datetime]],
        finished: Sequence[str],
        taken_at: datetime,
    ) -> None:
        """Some of ``source``'s tickets changed (a webhook): the open ones (id, canonical
        status, created) are kept or updated, the ``finished`` ids leave the backlog, and the
        row of ``taken_at``'s day is written anew, with ages at ``taken_at``: the rest of the
        backlog stays as it was."""
        tenant = self._writer()
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _INSERT,
                source,
                [ticket_id for ticket_id, _, _ in open_tickets],
                [status for _, status, _ in open_tickets],
                [created for _, _, created in open_tickets],
                tenant,
            )
            await conn.execute(_FORGET, source, list(finished), tenant)
            await conn.execute(_LOCK_DAYS)
            await conn.execute(_CLEAR_DAY, taken_at, tenant)
            await conn.execute(_UPSERT_DAY, taken_at, tenant)

    async def backlog(self, at: datetime) -> list[tuple[str, str, int]]:
        """Open tickets by canonical status and age bucket at ``at``."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_COUNT, at, self._tenant)
        return [(row["status"], row["age_bucket"], row["tickets"]) for row in rows]

    async def daily(self, since: date) -> list[tuple[date, str, str, int]]:
        """The trend: each day's backlog since ``since``, by status and age bucket."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_DAILY, since, self._tenant)
        return [(r["day"], r["status"], r["age_bucket"], r["tickets"]) for r in rows]


class BacklogPass:
    """A facts refresh's open tickets of one source, then its backlog replaced by them."""

    def __init__(
        self, store: TicketBacklogStore | None = None, source: Source = Source.SUPPORT
    ) -> None:
        #: None: a refresh that keeps no backlog (``refresh_facts`` called without one).
        self._store = store
        self._source = source
        self._open: list[tuple[str, str, datetime]] = []

    def see(self, tickets: Iterable[Ticket]) -> None:
        """Keep the open ones of ``tickets`` (solved and closed are no backlog)."""
        if self._store is None:
            return
        self._open.extend(
            (ticket.id, ticket.status.value, ticket.created_at)
            for ticket in tickets
            if ticket.status not in FINISHED_TICKET_STATUSES
        )

    async def apply(self, taken_at: datetime) -> None:
        """The source's backlog is now what was seen; today's trend row follows."""
        if self._store is not None:
            await self._store.replace(self._source.value, self._open, taken_at)


#: A refresh that keeps no backlog (tests of the read model alone): sees and keeps nothing.
NO_BACKLOG = BacklogPass()
