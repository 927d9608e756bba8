"""The ``customer_facts`` read model in PostgreSQL: pages, counts and streams for analysts.

``PostgresFactsStore`` implements ``kernel.customer_facts.CustomerFactsStore``: keyset
pagination over one sort key and the customer id (stable cursors, no duplicates or gaps
while paging, whatever is inserted meanwhile), filters as indexed SQL. The SQL text is put
together from fixed fragments chosen by the filter's fields; every value is a parameter.

``FactsWriter`` is what the facts refresh (``app.analytics.refresh``) writes through.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kernel.customer_facts import (
    CustomerFacts,
    CustomerFactsPage,
    CustomerFilter,
    CustomerOrder,
    CustomerOrderField,
)
from kernel.identity import CustomerId
from kernel.models import Source

__all__ = [
    "BillingFacts",
    "CrmFacts",
    "FactsRefreshSession",
    "FactsWriter",
    "PostgresFactsStore",
]

# The sort key of each order, as SQL and as the type its cursor value is cast to. Missing
# facts sort lowest (the same expressions are indexed by 006_customer_facts.sql).
_SORT_SQL: dict[CustomerOrderField, tuple[str, str]] = {
    CustomerOrderField.CREATED_AT: ("f.created_at", "timestamptz"),
    CustomerOrderField.BALANCE: ("coalesce(f.balance, '-Infinity'::numeric)", "numeric"),
    CustomerOrderField.OPEN_TICKETS: ("coalesce(f.open_ticket_count, -1)", "integer"),
    CustomerOrderField.LAST_CONTACT_AT: (
        "coalesce(f.last_contact_at, '-infinity'::timestamptz)",
        "timestamptz",
    ),
}
# What a missing fact sorts as, written as the cursor holds it.
_MISSING_KEY: dict[CustomerOrderField, str] = {
    CustomerOrderField.CREATED_AT: "-infinity",
    CustomerOrderField.BALANCE: "-Infinity",
    CustomerOrderField.OPEN_TICKETS: "-1",
    CustomerOrderField.LAST_CONTACT_AT: "-infinity",
}

_COLUMNS = """
f.customer_id, c.display_name, f.created_at, f.linked_sources, f.balance, f.currency,
f.delinquent, f.subscription_status, f.open_ticket_count, f.last_ticket_at,
f.last_contact_at, f.country, f.billing_taken_at, f.support_taken_at, f.crm_taken_at
"""


@dataclass(frozen=True, slots=True)
class _Cursor:
    """A position in one order: the sort key of the last row seen (as text) and its id."""

    order: str
    key: str
    customer_id: str

    def encode(self) -> str:
        raw = json.dumps([self.order, self.key, self.customer_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, order: CustomerOrder) -> _Cursor:
        """The cursor's position; ``ValueError`` when it is not one of ours for ``order``."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            parts = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        except (ValueError, UnicodeError, binascii.Error):
            raise ValueError("not a customers cursor") from None
        if not (
            isinstance(parts, list)
            and len(parts) == 3
            and all(isinstance(part, str) for part in parts)
        ):
            raise ValueError("not a customers cursor")
        decoded = cls(order=parts[0], key=parts[1], customer_id=parts[2])
        if decoded.order != _order_name(order):
            raise ValueError("the cursor belongs to another order")
        _check_key(order.field, decoded.key)
        return decoded


def _order_name(order: CustomerOrder) -> str:
    return f"{order.field.value}:{'desc' if order.descending else 'asc'}"


def _check_key(field: CustomerOrderField, key: str) -> None:
    """Refuse a key PostgreSQL could not cast: a clear error instead of a failing query."""
    if key == _MISSING_KEY[field]:
        return
    try:
        if field is CustomerOrderField.BALANCE:
            if not Decimal(key).is_finite():
                raise ValueError
        elif field is CustomerOrderField.OPEN_TICKETS:
            int(key)
        else:
            if datetime.fromisoformat(key).tzinfo is None:
                raise ValueError
    except (ValueError, ArithmeticError):
        raise ValueError("the cursor's position is not valid") from None


def _key_of(row: asyncpg.Record, field: CustomerOrderField) -> str:
    value = {
        CustomerOrderField.CREATED_AT: row["created_at"],
        CustomerOrderField.BALANCE: row["balance"],
        CustomerOrderField.OPEN_TICKETS: row["open_ticket_count"],
        CustomerOrderField.LAST_CONTACT_AT: row["last_contact_at"],
    }[field]
    if value is None:
        return _MISSING_KEY[field]
    return value.isoformat() if isinstance(value, datetime) else str(value)


class _Query:
    """SQL conditions and their parameters, numbered as they are added."""

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[object] = []

    def param(self, value: object) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def where_sql(self) -> str:
        return " and ".join(self.conditions) if self.conditions else "true"


def _filtered(customer_filter: CustomerFilter) -> _Query:
    query = _Query()
    f = customer_filter
    if f.delinquent is True:
        # Literally ``delinquent``: the partial index's predicate, so the planner can use it.
        query.where("f.delinquent")
    elif f.delinquent is False:
        query.where("f.delinquent = false")
    if f.min_open_tickets is not None:
        query.where(f"f.open_ticket_count >= {query.param(f.min_open_tickets)}")
    if f.subscription_status_in:
        statuses = sorted(f.subscription_status_in)
        query.where(f"f.subscription_status = any({query.param(statuses)}::text[])")
    if f.last_contact_before is not None:
        query.where(f"f.last_contact_at < {query.param(f.last_contact_before)}")
    if f.last_contact_after is not None:
        query.where(f"f.last_contact_at >= {query.param(f.last_contact_after)}")
    if f.country_in:
        query.where(f"f.country = any({query.param(sorted(f.country_in))}::text[])")
    if f.linked_to:
        wanted = sorted(s.value for s in f.linked_to)
        query.where(f"f.linked_sources @> {query.param(wanted)}::text[]")
    if f.missing_from:
        unwanted = sorted(s.value for s in f.missing_from)
        query.where(f"not (f.linked_sources && {query.param(unwanted)}::text[])")
    return query


def _facts(row: asyncpg.Record) -> CustomerFacts:
    return CustomerFacts(
        customer_id=CustomerId(row["customer_id"]),
        display_name=row["display_name"],
        created_at=row["created_at"],
        linked_sources=tuple(Source(s) for s in row["linked_sources"]),
        balance=row["balance"],
        currency=row["currency"],
        delinquent=row["delinquent"],
        subscription_status=row["subscription_status"],
        open_ticket_count=row["open_ticket_count"],
        last_ticket_at=row["last_ticket_at"],
        last_contact_at=row["last_contact_at"],
        country=row["country"],
        billing_taken_at=row["billing_taken_at"],
        support_taken_at=row["support_taken_at"],
        crm_taken_at=row["crm_taken_at"],
    )


class PostgresFactsStore:
    """``CustomerFactsStore`` over the ``customer_facts`` table."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool

    async def page_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        first: int,
        after: str | None,
    ) -> CustomerFactsPage:
        """``first`` customers after ``after``; ``ValueError`` for a cursor not of ``order``."""
        if first < 1:
            raise ValueError("first must be at least 1")
        cursor = _Cursor.decode(after, order) if after is not None else None
        sql, args = self._page_sql(customer_filter, order, first + 1, cursor)
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, *args)
            has_previous = cursor is not None and await self._any_before(
                conn, customer_filter, order, cursor
            )
        page = rows[:first]
        name = _order_name(order)
        return CustomerFactsPage(
            rows=[_facts(row) for row in page],
            cursors=[
                _Cursor(name, _key_of(row, order.field), row["customer_id"]).encode()
                for row in page
            ],
            has_next_page=len(rows) > first,
            has_previous_page=has_previous,
        )

    async def count_customers_matching(self, customer_filter: CustomerFilter) -> int:
        """How many customers the filter selects."""
        query = _filtered(customer_filter)
        sql = f"select count(*) from customer_facts as f where {query.where_sql()}"  # noqa: S608
        async with self._pool.acquire() as conn:
            count: int = await conn.fetchval(sql, *query.args)
        return count

    async def stream_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> AsyncIterator[tuple[list[CustomerFacts], str]]:
        """Every customer the filter selects, ``batch_size`` at a time, each batch with the
        cursor after its last row (one short query per batch: no transaction held open)."""
        while True:
            page = await self.page_customers(customer_filter, order, batch_size, after)
            if not page.rows:
                return
            after = page.cursors[-1]
            yield list(page.rows), after
            if not page.has_next_page:
                return

    async def get_facts(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerFacts]:
        """The facts of these customers; customers without a row yet are absent."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        sql = f"""
        select {_COLUMNS} from customer_facts as f join customers as c on c.id = f.customer_id
         where f.customer_id = any($1::text[])
        """  # noqa: S608 - fixed column list
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, wanted)
        return {CustomerId(row["customer_id"]): _facts(row) for row in rows}

    async def explain_page(
        self, customer_filter: CustomerFilter, order: CustomerOrder, first: int
    ) -> str:
        """PostgreSQL's plan of the first page's query (for tests and the benchmark)."""
        sql, args = self._page_sql(customer_filter, order, first + 1, None)
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(f"explain {sql}", *args)
        return "\n".join(row[0] for row in rows)

    def _page_sql(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        limit: int,
        cursor: _Cursor | None,
    ) -> tuple[str, list[object]]:
        query = _filtered(customer_filter)
        expr, cast = _SORT_SQL[order.field]
        direction = "desc" if order.descending else "asc"
        if cursor is not None:
            comparison = "<" if order.descending else ">"
            key, customer = query.param(cursor.key), query.param(cursor.customer_id)
            query.where(f"({expr}, f.customer_id) {comparison} ({key}::text::{cast}, {customer})")
        sql = f"""
        select {_COLUMNS}
          from customer_facts as f join customers as c on c.id = f.customer_id
         where {query.where_sql()}
         order by {expr} {direction}, f.customer_id {direction}
         limit {query.param(limit)}
        """  # noqa: S608 - fragments are fixed; every value is a parameter
        return sql, query.args

    async def _any_before(
        self,
        conn: PoolConnectionProxy[asyncpg.Record],
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        cursor: _Cursor,
    ) -> bool:
        """Whether a selected customer comes at or before the cursor (``hasPreviousPage``)."""
        query = _filtered(customer_filter)
        expr, cast = _SORT_SQL[order.field]
        comparison = ">=" if order.descending else "<="
        key, customer = query.param(cursor.key), query.param(cursor.customer_id)
        query.where(f"({expr}, f.customer_id) {comparison} ({key}::text::{cast}, {customer})")
        sql = f"select exists (select 1 from customer_facts as f where {query.where_sql()})"  # noqa: S608
        found: bool = await conn.fetchval(sql, *query.args)
        return found


# --- writing: the facts refresh --------------------------------------------------------


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


# A record's facts belong to its customer only when it is the record the panels show: the
# first linked of its source (``CustomerRecord.link_for``).
_CHOSEN_LINK = """
    not exists (
        select 1 from identity_links as other
         where other.customer_id = l.customer_id and other.source = l.source
           and (other.linked_at, other.external_id) < (l.linked_at, l.external_id))
"""

_ENSURE_ROWS = """
insert into customer_facts (customer_id, created_at, linked_sources)
select c.id, c.created_at,
       coalesce((select array_agg(distinct l.source order by l.source)
                   from identity_links as l where l.customer_id = c.id), '{}')
  from customers as c
 where $1::text[] is null or c.id = any($1::text[])
on conflict (customer_id) do update set linked_sources = excluded.linked_sources
 where customer_facts.linked_sources is distinct from excluded.linked_sources
"""
# Staging tables live for one transaction: a pass's pages are staged, then applied to the
# read model in one statement, so readers never see a pass half done (and one hash join
# over the whole pass is much cheaper than an update per page: 5 s against 0.5 s for
# 10,000 customers).
StageKind = Literal["crm", "billing", "subscriptions", "tickets", "calls"]

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
 where l.source = 'CRM' and f.customer_id = l.customer_id and {_CHOSEN_LINK}
"""  # noqa: S608 - a fixed fragment
_APPLY_BILLING = f"""
update customer_facts as f
   set balance = s.balance, currency = s.currency, delinquent = s.delinquent,
       billing_taken_at = $1
  from identity_links as l
  left join facts_stage_billing as s on s.external_id = l.external_id
 where l.source = 'BILLING' and f.customer_id = l.customer_id and {_CHOSEN_LINK}
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
 where l.source = 'BILLING' and f.customer_id = l.customer_id and {_CHOSEN_LINK}
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
 where l.source = 'SUPPORT' and f.customer_id = l.customer_id and {_CHOSEN_LINK}
"""  # noqa: S608 - a fixed fragment
_APPLY_CALLS = """
update customer_facts as f
   set last_call_at = calls.at
  from (select k.customer_id, max(s.at) as at
          from facts_stage_calls as s
          join lookup_keys as k on k.kind = 'phone' and k.value = s.phone
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

    def __init__(self, conn: PoolConnectionProxy[asyncpg.Record], apply_lock: asyncio.Lock) -> None:
        self._conn = conn
        self._apply_lock = apply_lock

    async def _apply(self, stage: str, sql: str, *args: object) -> None:
        async with self._apply_lock:
            # Fresh statistics first: a temp table has none, and customer_facts, filled a
            # moment ago, may still look empty to the planner, which then loops over one
            # table for each row of the other (a 100,000-customer refresh ran for more than
            # 8 minutes on one update before this; seconds after).
            await self._conn.execute(f"analyze {stage}")
            await self._conn.execute(sql, *args)

    async def ensure_rows(self, customer_ids: Sequence[CustomerId] | None = None) -> None:
        """A row for every customer (or these), with the systems each is linked to now."""
        ids = None if customer_ids is None else list(customer_ids)
        await self._conn.execute(_ENSURE_ROWS, ids)
        if ids is None:
            await self._conn.execute("analyze customer_facts")

    async def stage_crm(self, page: Sequence[CrmFacts]) -> None:
        """The CRM facts of one page of contacts."""
        await self._conn.execute(
            _STAGE_CRM, [f.external_id for f in page], [f.country for f in page]
        )

    async def apply_crm(self, taken_at: datetime) -> None:
        """Each CRM-linked customer's staged facts (NULL when its contact is gone)."""
        await self._apply("facts_stage_crm", _APPLY_CRM, taken_at)

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
        await self._apply("facts_stage_billing", _APPLY_BILLING, taken_at)

    @asynccontextmanager
    async def staged(self, kind: StageKind) -> AsyncIterator[None]:
        """A transaction with the staging table of ``kind`` (crm, billing, subscriptions,
        tickets, calls)."""
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
        await self._apply("facts_stage_subscriptions", _APPLY_SUBSCRIPTIONS)

    async def stage_tickets(self, rows: Sequence[tuple[str, int, datetime]]) -> None:
        """(support user id, open tickets, newest ticket) of one page, per requester."""
        await self._conn.execute(
            _STAGE_TICKETS, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
        )

    async def apply_tickets(self, taken_at: datetime) -> None:
        """Each support-linked customer's staged counts (0 and NULL when none)."""
        await self._apply("facts_stage_tickets", _APPLY_TICKETS, taken_at)

    async def stage_calls(self, rows: Sequence[tuple[str, datetime]]) -> None:
        """(caller E.164, initiated at) of IVR contacts."""
        await self._conn.execute(_STAGE_CALLS, [r[0] for r in rows], [r[1] for r in rows])

    async def apply_calls(self) -> None:
        """Each customer's newest staged call, where it is newer than the one known."""
        await self._apply("facts_stage_calls", _APPLY_CALLS)


class FactsWriter:
    """Writes the read model: whole refreshes (``session``) and one customer's groups."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record]) -> None:
        self._pool = pool
        self._apply_lock = asyncio.Lock()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[FactsRefreshSession]:
        """One connection for one pass (staging tables belong to a connection); as many
        passes run at once as the pool has connections."""
        async with self._pool.acquire() as conn:
            yield FactsRefreshSession(conn, self._apply_lock)

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
            await conn.execute(_ENSURE_ROWS, list(customer_ids))

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

    async def set_crm(
        self, customer_id: CustomerId, country: str | None, taken_at: datetime
    ) -> None:
        """One customer's CRM facts, read from the CRM just now."""
        async with self._pool.acquire() as conn:
            await conn.execute(_SET_CUSTOMER_CRM, customer_id, country, taken_at)
