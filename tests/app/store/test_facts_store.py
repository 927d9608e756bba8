"""The customer_facts read model against a real PostgreSQL: filters, keyset pages, streams.

Every test builds a dataset whose truth is computed in Python from the same rows, and checks
the store's answer against it: the right customers, in the right order, none twice and none
missing across pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from kernel.customer_facts import (
    CustomerFacts,
    CustomerFilter,
    CustomerOrder,
    CustomerOrderField,
)
from kernel.identity import CustomerId
from kernel.models import Source

T0 = datetime(2025, 1, 1, tzinfo=UTC)
STATUSES = ("ACTIVE", "PAST_DUE", "CANCELED", None)
COUNTRIES = ("United Kingdom", "United States", None)
LINKS = (("BILLING", "CRM", "SUPPORT"), ("CRM",), ("BILLING", "CRM"), ("SUPPORT",))


@dataclass(frozen=True)
class Row:
    """One customer of the known dataset."""

    customer_id: str
    created_at: datetime
    linked_sources: tuple[str, ...]
    balance: Decimal | None
    delinquent: bool | None
    subscription_status: str | None
    open_ticket_count: int | None
    last_ticket_at: datetime | None
    last_call_at: datetime | None
    country: str | None

    @property
    def last_contact_at(self) -> datetime | None:
        moments = [m for m in (self.last_ticket_at, self.last_call_at) if m is not None]
        return max(moments) if moments else None


def known_rows(count: int) -> list[Row]:
    """Facts that vary independently, with gaps (None) and ties (same created_at)."""
    return [
        Row(
            customer_id=f"cust_{i:04d}",
            # Ties: pairs share a creation time, so the id must break them.
            created_at=T0 + timedelta(minutes=i // 2),
            linked_sources=LINKS[i % 4],
            balance=None if i % 13 == 0 else Decimal(i % 11 - 5) + Decimal("0.25"),
            delinquent=None if i % 17 == 0 else i % 3 == 0,
            subscription_status=STATUSES[i % 4],
            open_ticket_count=None if i % 7 == 0 else i % 5,
            last_ticket_at=None if i % 6 == 0 else T0 + timedelta(hours=i % 40),
            last_call_at=None if i % 4 == 0 else T0 + timedelta(hours=(i * 7) % 50),
            country=COUNTRIES[i % 3],
        )
        for i in range(count)
    ]


async def load(store: Store, rows: list[Row]) -> None:
    """Customers and their facts, written as the refresh would leave them."""
    async with store.pool.acquire() as conn:
        await conn.executemany(
            "insert into customers (id, display_name, display_rank, display_ref, created_at)"
            " values ($1, $2, 0, $1, $3)",
            [(r.customer_id, f"Customer {r.customer_id}", r.created_at) for r in rows],
        )
        await conn.executemany(
            """insert into customer_facts (customer_id, created_at, linked_sources, balance,
                 currency, delinquent, subscription_status, open_ticket_count, last_ticket_at,
                 last_call_at, country, billing_taken_at, support_taken_at, crm_taken_at)
               values ($1, $2, $3, $4, 'gbp', $5, $6, $7, $8, $9, $10, $11, $11, $11)""",
            [
                (
                    r.customer_id,
                    r.created_at,
                    list(r.linked_sources),
                    r.balance,
                    r.delinquent,
                    r.subscription_status,
                    r.open_ticket_count,
                    r.last_ticket_at,
                    r.last_call_at,
                    r.country,
                    T0,
                )
                for r in rows
            ],
        )


@pytest.fixture
async def dataset(store: Store) -> list[Row]:
    rows = known_rows(120)
    await load(store, rows)
    return rows


@pytest.fixture
def facts(store: Store) -> PostgresFactsStore:
    return PostgresFactsStore(store.pool)


def sort_key(field: CustomerOrderField) -> Callable[[Row], tuple[object, str]]:
    """The truth of each order: missing facts sort lowest, ties by id."""
    lowest_time = datetime.min.replace(tzinfo=UTC)

    def key(row: Row) -> tuple[object, str]:
        if field is CustomerOrderField.CREATED_AT:
            return (row.created_at, row.customer_id)
        if field is CustomerOrderField.BALANCE:
            return (
                row.balance if row.balance is not None else Decimal("-Infinity"),
                row.customer_id,
            )
        if field is CustomerOrderField.OPEN_TICKETS:
            count = row.open_ticket_count
            return (count if count is not None else -1, row.customer_id)
        return (row.last_contact_at or lowest_time, row.customer_id)

    return key


async def page_through(
    facts: PostgresFactsStore, customer_filter: CustomerFilter, order: CustomerOrder, size: int
) -> list[str]:
    ids: list[str] = []
    after: str | None = None
    while True:
        page = await facts.page_customers(customer_filter, order, size, after)
        ids.extend(row.customer_id for row in page.rows)
        if not page.has_next_page:
            return ids
        after = page.cursors[-1]


@pytest.mark.parametrize("field", list(CustomerOrderField))
@pytest.mark.parametrize("descending", [False, True])
async def test_paging_through_every_order_gives_each_customer_once_in_order(
    facts: PostgresFactsStore, dataset: list[Row], field: CustomerOrderField, descending: bool
) -> None:
    order = CustomerOrder(field=field, descending=descending)
    expected = [r.customer_id for r in sorted(dataset, key=sort_key(field), reverse=descending)]

    assert await page_through(facts, CustomerFilter(), order, size=7) == expected


FILTERS: dict[str, tuple[CustomerFilter, Callable[[Row], bool]]] = {
    "delinquent": (CustomerFilter(delinquent=True), lambda r: r.delinquent is True),
    "not delinquent": (CustomerFilter(delinquent=False), lambda r: r.delinquent is False),
    "delinquent with 3 open tickets": (
        CustomerFilter(delinquent=True, min_open_tickets=3),
        lambda r: r.delinquent is True and (r.open_ticket_count or 0) >= 3,
    ),
    "subscription status in": (
        CustomerFilter(subscription_status_in=frozenset({"ACTIVE", "PAST_DUE"})),
        lambda r: r.subscription_status in ("ACTIVE", "PAST_DUE"),
    ),
    "last contact before": (
        CustomerFilter(last_contact_before=T0 + timedelta(hours=20)),
        lambda r: r.last_contact_at is not None and r.last_contact_at < T0 + timedelta(hours=20),
    ),
    "last contact after": (
        CustomerFilter(last_contact_after=T0 + timedelta(hours=30)),
        lambda r: r.last_contact_at is not None and r.last_contact_at >= T0 + timedelta(hours=30),
    ),
    "country in": (
        CustomerFilter(country_in=frozenset({"United Kingdom"})),
        lambda r: r.country == "United Kingdom",
    ),
    "linked to billing and support": (
        CustomerFilter(linked_to=frozenset({Source.BILLING, Source.SUPPORT})),
        lambda r: {"BILLING", "SUPPORT"} <= set(r.linked_sources),
    ),
    "missing from billing": (
        CustomerFilter(missing_from=frozenset({Source.BILLING})),
        lambda r: "BILLING" not in r.linked_sources,
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
async def test_a_filter_selects_exactly_the_customers_it_describes(
    facts: PostgresFactsStore, dataset: list[Row], name: str
) -> None:
    customer_filter, truth = FILTERS[name]
    expected = [r.customer_id for r in sorted(dataset, key=sort_key(CustomerOrderField.CREATED_AT))]
    expected = [i for i in expected if truth(next(r for r in dataset if r.customer_id == i))]
    assert expected, "the dataset must give the filter something to find"

    assert await page_through(facts, customer_filter, CustomerOrder(), size=10) == expected


@pytest.mark.parametrize("name", list(FILTERS))
async def test_the_count_of_a_filter_is_the_number_it_selects(
    facts: PostgresFactsStore, dataset: list[Row], name: str
) -> None:
    customer_filter, truth = FILTERS[name]

    assert await facts.count_customers_matching(customer_filter) == sum(map(truth, dataset))


async def test_a_page_says_whether_customers_come_before_and_after_it(
    facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    first = await facts.page_customers(CustomerFilter(), CustomerOrder(), 50, None)
    second = await facts.page_customers(CustomerFilter(), CustomerOrder(), 50, first.cursors[-1])
    last = await facts.page_customers(CustomerFilter(), CustomerOrder(), 50, second.cursors[-1])

    assert (first.has_previous_page, first.has_next_page) == (False, True)
    assert (second.has_previous_page, second.has_next_page) == (True, True)
    assert (last.has_previous_page, last.has_next_page, len(last.rows)) == (True, False, 20)


async def test_a_customer_added_before_the_cursor_does_not_repeat_or_shift_the_next_page(
    store: Store, facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    first = await facts.page_customers(CustomerFilter(), CustomerOrder(), 10, None)
    early = known_rows(1)[0]
    await load(store, [Row(**{**early.__dict__, "customer_id": "cust_early"})])

    second = await facts.page_customers(CustomerFilter(), CustomerOrder(), 10, first.cursors[-1])

    expected = [r.customer_id for r in sorted(dataset, key=sort_key(CustomerOrderField.CREATED_AT))]
    assert [r.customer_id for r in second.rows] == expected[10:20]


async def test_a_cursor_that_is_not_one_is_refused(
    facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    with pytest.raises(ValueError, match="cursor"):
        await facts.page_customers(CustomerFilter(), CustomerOrder(), 10, "not-a-cursor")


async def test_a_cursor_of_another_order_is_refused(
    facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    page = await facts.page_customers(CustomerFilter(), CustomerOrder(), 10, None)
    by_balance = CustomerOrder(field=CustomerOrderField.BALANCE)

    with pytest.raises(ValueError, match="another order"):
        await facts.page_customers(CustomerFilter(), by_balance, 10, page.cursors[-1])


async def test_the_stream_gives_every_selected_customer_and_can_resume_from_its_cursor(
    facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    selection = CustomerFilter(delinquent=False)
    expected = await page_through(facts, selection, CustomerOrder(), size=100)
    batches = [b async for b in facts.stream_customers(selection, CustomerOrder(), batch_size=9)]
    resumed = [
        row.customer_id
        for rows, _ in [
            b
            async for b in facts.stream_customers(
                selection, CustomerOrder(), batch_size=9, after=batches[1][1]
            )
        ]
        for row in rows
    ]

    assert [row.customer_id for rows, _ in batches for row in rows] == expected
    assert resumed == expected[18:]


async def test_the_facts_of_given_customers_are_their_rows(
    facts: PostgresFactsStore, dataset: list[Row]
) -> None:
    found = await facts.get_facts([CustomerId("cust_0003"), CustomerId("cust_none")])

    assert list(found) == ["cust_0003"]
    three: CustomerFacts = found[CustomerId("cust_0003")]
    assert (three.delinquent, three.open_ticket_count, three.balance) == (True, 3, Decimal("-1.75"))
    assert three.linked_sources == (Source.SUPPORT,)


async def test_delinquent_with_open_tickets_over_100000_customers_is_an_indexed_query(
    store: Store, facts: PostgresFactsStore
) -> None:
    # Generated in the database: 100,000 customers, a third delinquent, tickets 0..9.
    async with store.pool.acquire() as conn:
        await conn.execute(
            """insert into customers (id, display_name, display_rank, display_ref, created_at)
               select 'c' || n, 'Customer ' || n, 0, 'c' || n,
                      timestamptz '2025-01-01' + n * interval '1 minute'
                 from generate_series(1, 100000) as n"""
        )
        await conn.execute(
            """insert into customer_facts (customer_id, created_at, delinquent,
                                           open_ticket_count, linked_sources)
               select id, created_at, (substr(id, 2)::int % 3 = 0),
                      substr(id, 2)::int % 10, '{CRM}' from customers"""
        )
        await conn.execute("analyze customer_facts")
    selection = CustomerFilter(delinquent=True, min_open_tickets=3)

    plan = await facts.explain_page(selection, CustomerOrder(), 50)

    assert "customer_facts" in plan
    assert "Seq Scan on customer_facts" not in plan, plan
