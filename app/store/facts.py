"""The ``customer_facts`` read model in PostgreSQL: pages, counts and streams for analysts.

``PostgresFactsStore`` implements ``kernel.customer_facts.CustomerFactsStore``: keyset
pagination over one sort key and the customer id (stable cursors, no duplicates or gaps
while paging, whatever is inserted meanwhile), filters as indexed SQL (the registered
sources' own facts and filters through ``app.store.source_facts``). The SQL text is put
together from fixed fragments chosen by the filter's fields; every value is a parameter.

What the facts refresh writes goes through ``app.store.facts_writer.FactsWriter``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.store.source_facts import decode_source_facts, flags_where
from app.tenancy.settings import DEFAULT_TENANT
from kernel.customer_facts import (
    CustomerFacts,
    CustomerFactsPage,
    CustomerFilter,
    CustomerOrder,
    CustomerOrderField,
)
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["PostgresFactsStore"]

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
f.last_contact_at, f.country, f.billing_taken_at, f.support_taken_at, f.crm_taken_at,
f.source_facts
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
    for condition in flags_where(f.source_flags, query.param):
        query.where(condition)
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
        source_facts=decode_source_facts(row["source_facts"]),
    )


class PostgresFactsStore:
    """``CustomerFactsStore`` over the ``customer_facts`` table, one tenant's rows (a row
    takes its customer's tenant, ``facts_writer``)."""

    def __init__(
        self, pool: asyncpg.Pool[asyncpg.Record], tenant: TenantId = DEFAULT_TENANT
    ) -> None:
        self._pool = pool
        self._tenant = tenant

    def _filtered(self, customer_filter: CustomerFilter) -> _Query:
        """The filter's conditions, within this store's tenant."""
        query = _filtered(customer_filter)
        query.where(f"f.tenant = {query.param(self._tenant)}")
        return query

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
        query = self._filtered(customer_filter)
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
         where f.customer_id = any($1::text[]) and f.tenant = $2
        """  # noqa: S608 - fixed column list
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(sql, wanted, self._tenant)
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
        query = self._filtered(customer_filter)
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
        query = self._filtered(customer_filter)
        expr, cast = _SORT_SQL[order.field]
        comparison = ">=" if order.descending else "<="
        key, customer = query.param(cursor.key), query.param(cursor.customer_id)
        query.where(f"({expr}, f.customer_id) {comparison} ({key}::text::{cast}, {customer})")
        sql = f"select exists (select 1 from customer_facts as f where {query.where_sql()})"  # noqa: S608
        found: bool = await conn.fetchval(sql, *query.args)
        return found
