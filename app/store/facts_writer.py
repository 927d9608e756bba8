"""Writing the ``customer_facts`` read model: whole refreshes, and one customer's groups.

``FactsWriter`` is what the facts refresh (``app.analytics.refresh``) writes through: a
``FactsRefreshSession`` stages the pages of one pass and applies them to the read model in
one statement; ``ensure_customers`` and the ``set_*`` methods write one customer's rows. The
registered sources' own facts are written by the statements of ``app.store.source_facts``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.store import source_facts
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.source_facts import FactsSpec, FactValues
from kernel.tenancy import TenantId

__all__ = ["BillingFacts", "CrmFacts", "FactsRefreshSession", "FactsWriter"]


@dataclass(frozen=True, slots=True)
class BillingFacts:
    """The money facts of one billing record."""

    external_id: str
    balance: Decimal
    currency: str
    delinquent: bool


@dataclass(frozen=True, slots=True)
class CrmFacts:
    """The CRM facts of one contact."""

    external_id: str
    country: str | None


# A record's facts belong to its customer only when it is the record the panels show.
_CHOSEN_LINK = source_facts.CHOSEN_LINK

_ENSURE_ROWS = """
insert into customer_facts (customer_id, tenant, created_at, linked_sources)
select c.id, c.tenant, c.created_at,
       coalesce((select array_agg(distinct l.source order by l.source)
                   from identity_links as l where l.customer_id = c.id), '{}')
  from customers as c
 where {which}
on conflict (customer_id) do update set linked_sources = excluded.linked_sources
 where customer_facts.linked_sources is distinct from excluded.linked_sources
"""
# A whole refresh's rows: its tenant's customers; named customers: those (ids are unique
# across tenants, and each row takes its customer's tenant).
_ENSURE_TENANT_ROWS = _ENSURE_ROWS.replace("{which}", "c.tenant = $1")
_ENSURE_NAMED_ROWS = _ENSURE_ROWS.replace("{which}", "c.id = any($1::text[])")
# Staging tables live for one transaction: a pass's pages are staged, then applied to the
# read model in one statement, so readers never see a pass half done (and one hash join
# over the whole pass is much cheaper than an update per page: 5 s against 0.5 s for
# 10,000 customers).
StageKind = Literal["crm", "billing", "subscriptions", "tickets", "calls", "source"]

_STAGE_TABLES: dict[StageKind, str] = {
    "crm": """
        create temp table facts_stage_crm (external_id text not null, country text)
            on commit drop""",
    "billing": """
        create temp table facts_stage_billing (
            external_id text not null, balance numeric not null, currency text not null,
            delinquent boolean not null
        ) on commit drop""",
    "subscriptions": """
        create temp table facts_stage_subscriptions (
            external_id text not null, relevance smallint not null, status text not null
        ) on commit drop""",
    "tickets": """
        create temp table facts_stage_tickets (
            external_id text not null, open_count integer not null,
            last_ticket_at timestamptz not null
        ) on commit drop""",
    "calls": """
        create temp table facts_stage_calls (phone text not null, at timestamptz not null)
            on commit drop""",
    "source": source_facts.STAGE_TABLE,
}
_STAGE_CRM = """
insert into facts_stage_crm (external_id, country) select * from unnest($1::text[], $2::text[])
"""
_STAGE_BILLING = """
insert into facts_stage_billing (external_id, balance, currency, delinquent)
select * from unnest($1::text[], $2::numeric[], $3::text[], $4::boolean[])
"""
_STAGE_SUBSCRIPTIONS = """
insert into facts_stage_subscriptions (external_id, relevance, status)
select * from unnest($1::text[], $2::smallint[], $3::text[])
"""
_STAGE_TICKETS = """
insert into facts_stage_tickets (external_id, open_count, last_ticket_at)
select * from unnest($1::text[], $2::integer[], $3::timestamptz[])
"""
_STAGE_CALLS = """
insert into facts_stage_calls (phone, at) select * from unnest($1::text[], $2::timestamptz[])
"""
# A linked record missing from its system's listing (deleted there) leaves NULL facts.
_APPLY_CRM = f"""
update customer_facts as f
   set country = s.country, crm_taken_at = $1
  from identity_links as l
  left join facts_stage_crm as s on s.external_id = l.external_id
 where l.source = 'CRM' and l.tenant = $2 and f.customer_id = l.customer_id and {_CHOSEN_LINK}
"""  # noqa: S608 - a fixed fragment
_APPLY_BILLING = f"""
update customer_facts as f
   set balance = s.balance, currency = s.currency, delinquent = s.delinquent,
       billing_taken_at = $1
  from identity_links as l
  left join facts_stage_billing as s on s.external_id = l.external_id
 where l.source = 'BILLING' and l.tenant = $2 and f.customer_id = l.customer_id
   and {_CHOSEN_LINK}
"""  # noqa: S608 - a fixed fragment
# Customers with a billing link and no subscription get NULL (no status), not the old one.
# The staged rows are reduced per record first, then hash-joined to the links.
_APPLY_SUBSCRIPTIONS = f"""
update customer_facts as f
   set subscription_status = best.status
  from identity_links as l
  left join (
      select distinct on (external_id) external_id, status
        from facts_stage_subscriptions
       order by external_id, relevance) as best on best.external_id = l.external_id
 where l.source = 'BILLING' and l.tenant = $1 and f.customer_id = l.customer_id
   and {_CHOSEN_LINK}
   and f.subscription_status is distinct from best.status
"""  # noqa: S608 - a fixed fragment
_APPLY_TICKETS = f"""
update customer_facts as f
   set open_ticket_count = coalesce(t.open_count, 0), last_ticket_at = t.last_ticket_at,
       support_taken_at = $1
  from identity_links as l
  left join (
      select external_id, sum(open_count)::integer as open_count,
             max(last_ticket_at) as last_ticket_at
        from facts_stage_tickets group by external_id) as t on t.external_id = l.external_id
 where l.source = 'SUPPORT' and l.tenant = $2 and f.customer_id = l.customer_id
   and {_CHOSEN_LINK}
"""  # noqa: S608 - a fixed fragment
_APPLY_CALLS = """
update customer_facts as f
   set last_call_at = calls.at
  from (select k.customer_id, max(s.at) as at
          from facts_stage_calls as s
          join lookup_keys as k on k.kind = 'phone' and k.value = s.phone and k.tenant = $1
         group by k.customer_id) as calls
 where f.customer_id = calls.customer_id
   and (f.last_call_at is null or f.last_call_at < calls.at)
"""
_SET_CUSTOMER_BILLING = """
update customer_facts
   set balance = $2, currency = $3, delinquent = $4, subscription_status = $5,
       billing_taken_at = $6
 where customer_id = $1
"""
_SET_CUSTOMER_SUPPORT = """
update customer_facts
   set open_ticket_count = $2, last_ticket_at = $3, support_taken_at = $4
 where customer_id = $1
"""
_SET_CUSTOMER_CRM = (
    "update customer_facts set country = $2, crm_taken_at = $3 where customer_id = $1"
)


class FactsRefreshSession:
    """One connection of a facts refresh: a pass's pages staged, then applied at once.

    Passes run concurrently, each on a session of its own; their applies take turns
    (``apply_lock``): two updates of many rows of ``customer_facts``, locking them in
    different orders, could otherwise deadlock.
    """

    def __init__(
        self,
        conn: PoolConnectionProxy[asyncpg.Record],
        apply_lock: asyncio.Lock,
        tenant: TenantId,
    ) -> None:
        self._conn = conn
        self._apply_lock = apply_lock
        self._tenant = tenant

    async def _apply(self, stage: str, sql: str, *args: object) -> None:
        async with self._apply_lock:
            # Fresh statistics first: a temp table has none, and customer_facts, filled a
            # moment ago, may still look empty to the planner, which then loops over one
            # table for each row of the other (a 100,000-customer refresh ran for more than
            # 8 minutes on one update before this; seconds after).
            await self._conn.execute(f"analyze {stage}")
            await self._conn.execute(sql, *args)

    async def ensure_rows(self, customer_ids: Sequence[CustomerId] | None = None) -> None:
        """A row for every customer of the tenant (or these), with the systems each is
        linked to now."""
        if customer_ids is not None:
            await self._conn.execute(_ENSURE_NAMED_ROWS, list(customer_ids))
            return
        await self._conn.execute(_ENSURE_TENANT_ROWS, self._tenant)
        # Through the owner's function: the run-time role may not ANALYZE a table it
        # does not own (migration 019).
        await self._conn.execute("select analyze_customer_facts()")

    async def stage_crm(self, page: Sequence[CrmFacts]) -> None:
        """The CRM facts of one page of contacts."""
        await self._conn.execute(
            _STAGE_CRM, [f.external_id for f in page], [f.country for f in page]
        )

    async def apply_crm(self, taken_at: datetime) -> None:
        """Each CRM-linked customer's staged facts (NULL when its contact is gone)."""
        await self._apply("facts_stage_crm", _APPLY_CRM, taken_at, self._tenant)

    async def stage_billing(self, page: Sequence[BillingFacts]) -> None:
        """The money facts of one page of billing records."""
        await self._conn.execute(
            _STAGE_BILLING,
            [f.external_id for f in page],
            [f.balance for f in page],
            [f.currency for f in page],
            [f.delinquent for f in page],
        )

    async def apply_billing(self, taken_at: datetime) -> None:
        """Each billing-linked customer's staged money facts (NULL when its record is gone)."""
        await self._apply("facts_stage_billing", _APPLY_BILLING, taken_at, self._tenant)

    @asynccontextmanager
    async def staged(self, kind: StageKind) -> AsyncIterator[None]:
        """A transaction with the staging table of ``kind`` (crm, billing, subscriptions,
        tickets, calls; source: a registered source's own facts)."""
        async with self._conn.transaction():
            await self._conn.execute(_STAGE_TABLES[kind])
            yield

    async def stage_subscriptions(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """(billing id, relevance rank, canonical status) of one page of subscriptions."""
        await self._conn.execute(
            _STAGE_SUBSCRIPTIONS, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        )

    async def apply_subscriptions(self) -> None:
        """Each billing-linked customer's most relevant staged status (NULL when none)."""
        await self._apply("facts_stage_subscriptions", _APPLY_SUBSCRIPTIONS, self._tenant)

    async def stage_tickets(self, rows: Sequence[tuple[str, int, datetime]]) -> None:
        """(support user id, open tickets, newest ticket) of one page, per requester."""
        await self._conn.execute(
            _STAGE_TICKETS, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        )

    async def apply_tickets(self, taken_at: datetime) -> None:
        """Each support-linked customer's staged counts (0 and NULL when none)."""
        await self._apply("facts_stage_tickets", _APPLY_TICKETS, taken_at, self._tenant)

    async def stage_source_facts(self, rows: Sequence[tuple[str, FactValues]]) -> None:
        """One page of a registered source's facts, per customer reference (``source``)."""
        await self._conn.execute(source_facts.STAGE_SQL, *source_facts.stage_rows(rows))

    async def apply_source_facts(self, source: Source, spec: FactsSpec, taken_at: datetime) -> None:
        """Each of ``source``'s linked customers' staged facts, added up per reference
        (0 and NULL for a reference with none), and its flags."""
        sql, args = source_facts.apply_sql(source, spec, taken_at, self._tenant)
        await self._apply("facts_stage_source", sql, *args)

    async def stage_calls(self, rows: Sequence[tuple[str, datetime]]) -> None:
        """(caller E.164, initiated at) of IVR contacts."""
        await self._conn.execute(_STAGE_CALLS, [r[0] for r in rows], [r[1] for r in rows])

    async def apply_calls(self) -> None:
        """Each customer's newest staged call, where it is newer than the one known."""
        await self._apply("facts_stage_calls", _APPLY_CALLS, self._tenant)


class FactsWriter:
    """Writes the read model: whole refreshes of ``tenant``'s customers (``session``: a
    pass's records join that tenant's links only, never another tenant's with the same
    record id) and one customer's groups."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId) -> None:
        self._pool = pool
        self._tenant = tenant
        self._apply_lock = asyncio.Lock()

    @property
    def tenant(self) -> TenantId:
        """The tenant whose read model a whole refresh writes."""
        return self._tenant

    @property
    def pool(self) -> asyncpg.Pool[asyncpg.Record]:
        """The pool it writes through (the facts refresh's other tables share it)."""
        return self._pool

    @asynccontextmanager
    async def session(self) -> AsyncIterator[FactsRefreshSession]:
        """One connection for one pass (staging tables belong to a connection); as many
        passes run at once as the pool has connections."""
        async with self._pool.acquire() as conn:
            yield FactsRefreshSession(conn, self._apply_lock, self._tenant)

    async def ensure_customer(self, customer_id: CustomerId) -> None:
        """The customer's row, with the systems it is linked to now."""
        await self.ensure_customers([customer_id])

    async def ensure_customers(self, customer_ids: Sequence[CustomerId]) -> None:
        """These customers' rows, with the systems each is linked to now.

        For customers whose links just changed (a live link, a person's decision): they are
        listed by ``customers`` at once, their facts empty (not taken yet) until the next
        refresh or webhook of their records.
        """
        async with self._pool.acquire() as conn:
            await conn.execute(_ENSURE_NAMED_ROWS, list(customer_ids))

    async def set_billing(
        self,
        customer_id: CustomerId,
        facts: BillingFacts,
        subscription_status: str | None,
        taken_at: datetime,
    ) -> None:
        """One customer's money facts, read from billing just now."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                _SET_CUSTOMER_BILLING,
                customer_id,
                facts.balance,
                facts.currency,
                facts.delinquent,
                subscription_status,
                taken_at,
            )

    async def set_support(
        self,
        customer_id: CustomerId,
        open_ticket_count: int,
        last_ticket_at: datetime | None,
        taken_at: datetime,
    ) -> None:
        """One customer's ticket facts, read from support just now."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                _SET_CUSTOMER_SUPPORT, customer_id, open_ticket_count, last_ticket_at, taken_at
            )

    async def set_source_facts(
        self,
        customer_id: CustomerId,
        source: Source,
        spec: FactsSpec,
        values: FactValues,
        taken_at: datetime,
    ) -> None:
        """One customer's facts of a registered source, read from it just now."""
        sql, args = source_facts.set_customer_sql(customer_id, source, spec, values, taken_at)
        async with self._pool.acquire() as conn:
            await conn.execute(sql, *args)

    async def set_crm(
        self, customer_id: CustomerId, country: str | None, taken_at: datetime
    ) -> None:
        """One customer's CRM facts, read from the CRM just now."""
        async with self._pool.acquire() as conn:
            await conn.execute(_SET_CUSTOMER_CRM, customer_id, country, taken_at)
