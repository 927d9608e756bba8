"""What the benchmark asks the gateway, and the floor each request cannot go below.

The floor of a scenario is the slowest chain of upstream calls it must wait for: the
sandbox answers each call after the same fixed latency, so it is that latency times the
number of calls that have to happen one after another (``rounds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.store.facts import PostgresFactsStore
from kernel.customer_facts import CustomerFilter, CustomerOrder

#: The agent desktop's query: about 60 fields over profile, billing (with invoices and
#: subscriptions) and support (with tickets).
WHOLE_VIEW = """query WholeView($email: String!) {
  customerByEmail(email: $email) {
    id displayName
    links { source externalId matchedBy }
    profile {
      name email phone
      address { line1 city postalCode country }
      meta { source sourceRecordId fetchedAt }
    }
    billing {
      balance { amount currency } delinquent
      subscriptions {
        id status sourceStatus planName interval currentPeriodEnd cancelAtPeriodEnd
        amount { amount currency }
      }
      invoices(first: 5) {
        id number status dueDate paidAt overdue
        amountDue { amount currency } amountRemaining { amount currency }
      }
      meta { source sourceRecordId fetchedAt }
    }
    support {
      openTicketCount
      tickets(first: 5) { id subject status sourceStatus priority createdAt updatedAt }
      meta { source sourceRecordId fetchedAt }
    }
    orders {
      openOrderCount
      orders(first: 5) {
        number status sourceStatus placedAt total { amount currency }
        lines { sku description quantity } shipment { carrier trackingNumber status }
      }
      meta { source sourceRecordId fetchedAt }
    }
  }
}"""


def view_without(view: str, panel: str) -> str:
    """``view`` without the customer's ``panel`` (its whole selection, braces matched):
    ``bench.ab --a-without`` asks one gateway that, to measure what the panel costs."""
    start = view.find(f"\n    {panel} {{")
    if start < 0:
        raise ValueError(f"the view has no {panel} panel")
    depth = 0
    for end in range(view.index("{", start), len(view)):
        depth += {"{": 1, "}": -1}.get(view[end], 0)
        if depth == 0:
            return view[:start] + view[end + 1 :]
    raise ValueError(f"the view's {panel} panel is not closed")


#: The view without the orders panel: what a gateway from before the orders database
#: answers (``bench.ab`` against such a commit).
WHOLE_VIEW_WITHOUT_ORDERS = view_without(WHOLE_VIEW, "orders")

#: The same view, as the desktop asks for it once it holds the caller's interaction.
WHOLE_VIEW_BY_ID = WHOLE_VIEW.replace("$email: String!", "$id: ID!").replace(
    "customerByEmail(email: $email)", "customer(id: $id)"
)

BY_PHONE = """query ByPhone($phone: String!) {
  customerByPhone(phone: $phone) { id displayName links { source externalId matchedBy } }
}"""

#: The billing resources of the whole view: with no fresh nor stale time, every view must
#: ask billing again, while the value fetched last is kept for stale-if-error (an hour).
BILLING_ALWAYS_DUE = {
    f"SCV_CACHE__BILLING__{resource}__{half}_SECONDS": "0"
    for resource in ("CUSTOMER", "SUBSCRIPTIONS", "INVOICES")
    for half in ("FRESH", "STALE")
}

#: Upstream calls of one whole view of a customer known to all three systems: the CRM
#: contact (one batch read), the billing customer with their subscriptions (one combined
#: read; two for a customer without any subscription, about a quarter of the sandbox's)
#: and invoices, the tickets. Per query, then, between four and five.
WHOLE_VIEW_CALLS = (4.0, 5.0)


@dataclass(frozen=True)
class Customer:
    """One customer linked to billing, CRM and support alike, by its CRM lookup values."""

    email: str
    #: None when the CRM has no phone, or the phone is shared with another customer.
    phone: str | None


@dataclass(frozen=True)
class Customers:
    """Customers in the store's order, split into thirds so that each cold scenario meets
    customers no other scenario has fetched (and cached)."""

    all: list[Customer]
    #: The ``after`` cursor of each page of 50 of ``customers`` (None: the first page).
    page_cursors: list[str | None] = field(default_factory=list)

    def third(self, n: int) -> list[Customer]:
        size = len(self.all) // 3
        return self.all[n * size : (n + 1) * size]

    @property
    def emails(self) -> list[str]:
        return [c.email for c in self.all]

    @property
    def phones(self) -> list[str]:
        return [c.phone for c in self.all if c.phone is not None]

    def cold_emails(self) -> list[str]:
        """For the cold whole view."""
        return [c.email for c in self.third(0)]

    def source_down_emails(self) -> list[str]:
        """For the whole view with a source down: cold too, and other customers."""
        return [c.email for c in self.third(1)]

    def call_phones(self) -> list[str]:
        """The numbers that ring in the call flow: a third nobody else fetched."""
        return [c.phone for c in self.third(2) if c.phone is not None]


async def _linked_customers(database_url: str) -> Customers:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            with linked as (
                select customer_id from identity_links
                group by customer_id
                having count(distinct source) filter
                  (where source in ('BILLING', 'CRM', 'SUPPORT')) = 3
            ), owners as (
                select kind, value, count(distinct customer_id) as n
                from lookup_keys group by kind, value
            )
            select k.customer_id,
                   min(k.value) filter (where k.kind = 'email') as email,
                   min(k.value) filter (where k.kind = 'phone' and o.n = 1) as phone
            from lookup_keys k
            join linked using (customer_id)
            join owners o on o.kind = k.kind and o.value = k.value
            where k.source = 'CRM'
            group by k.customer_id
            order by k.customer_id
            """
        )
    finally:
        await conn.close()
    cursors = await _page_cursors(database_url)
    return Customers(
        [Customer(r["email"], r["phone"]) for r in rows if r["email"] is not None], cursors
    )


async def _page_cursors(database_url: str) -> list[str | None]:
    """Where each page of 50 of ``customers`` (default order) starts: the facts store's own
    cursors, so that each request of page_of_50 asks for a page no other request did."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        facts = PostgresFactsStore(pool)
        ends = [
            cursor
            async for _, cursor in facts.stream_customers(
                CustomerFilter(), CustomerOrder(), batch_size=50
            )
        ]
    finally:
        await pool.close()
    return [None, *ends[:-1]]


PAGE_OF_50 = """query PageOf50($after: String) {
  customers(first: 50, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id
      facts { delinquent openTicketCount subscriptionStatus ageSeconds }
      profile { name meta { fetchedAt } }
      billing { balance { amount currency } delinquent }
      support { openTicketCount }
    } }
  }
}"""

#: Calls of one page to one system at once: the smaller of ``SCV_CUSTOMERS__PANEL_CONCURRENCY``
#: (10) and the analysts' lane of each bulkhead, ``__BULKHEAD__ANALYST_MAX_CONCURRENT`` (5).
PAGE_CALLS_AT_ONCE = 5


def page_bodies(customers: Customers) -> list[dict[str, Any]]:
    return [
        {"query": PAGE_OF_50, "variables": {"after": cursor}, "operationName": "PageOf50"}
        for cursor in customers.page_cursors or [None]
    ]


def linked_customers(database_url: str) -> Customers:
    return asyncio.run(_linked_customers(database_url))


@dataclass(frozen=True)
class Scenario:
    """One kind of request, with how to build its bodies and what its floor is."""

    name: str
    description: str
    rounds: int
    #: Upstream calls per query: exactly, or a (low, high) range.
    expected_calls: float | tuple[float, float] | None
    bodies: Callable[[Customers], list[dict[str, Any]]]
    #: Faults applied for the scenario's duration: system -> fault settings.
    faults: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Requests sent (and not measured) first, before any fault, so that the cache is warm.
    warm_up: bool = False
    #: How many: enough that every worker (each with its own cache) has seen every body.
    warm_up_requests: int = 50
    #: Settings of a gateway of the scenario's own (``bench.stack.own_gateway``), for
    #: settings no other scenario should run with; empty: the stack's gateway.
    gateway_env: dict[str, str] = field(default_factory=dict)
    #: A schema field the scenario needs; skipped with a line when the schema lacks it.
    requires: str | None = None
    #: Why the scenario is not measured yet although its feature exists, if it is not.
    pending: str | None = None
    #: Who asks: the bearer token's role.
    role: str = "agent"
    #: The open loop's rate and the closed loop's clients, when not the run's own.
    rate: float | None = None
    concurrency: int | None = None
    #: The most requests of the closed loop, when fewer than the run's own.
    closed_requests: int | None = None


def whole_view_bodies(emails: list[str], query: str = WHOLE_VIEW) -> list[dict[str, Any]]:
    return [
        {"query": query, "variables": {"email": e}, "operationName": "WholeView"} for e in emails
    ]


SCENARIOS = [
    Scenario(
        name="whole_view_cold",
        description="whole-customer view, each request a different customer",
        rounds=1,
        expected_calls=WHOLE_VIEW_CALLS,
        bodies=lambda c: whole_view_bodies(c.cold_emails()),
    ),
    Scenario(
        name="whole_view_warm",
        description="whole-customer view of one customer, cache warm",
        rounds=0,
        expected_calls=0,
        bodies=lambda c: whole_view_bodies(c.emails[:1]),
        warm_up=True,
        requires="CacheState",
    ),
    Scenario(
        name="lookup_by_phone",
        description="customerByPhone with links (store only), a different phone each time",
        rounds=0,
        expected_calls=0,
        bodies=lambda c: [
            {"query": BY_PHONE, "variables": {"phone": p}, "operationName": "ByPhone"}
            for p in c.phones
        ],
    ),
    Scenario(
        name="page_of_50",
        description="a page of 50 customers with panels (analysts), each request the next page",
        # Billing has no batch read (nor support by requester): 50 calls each, at most
        # PAGE_CALLS_AT_ONCE at once.
        rounds=-(-50 // PAGE_CALLS_AT_ONCE),
        # One CRM batch read, then one billing and one support call per customer linked there.
        expected_calls=None,
        bodies=page_bodies,
        requires="CustomerConnection",
        role="analyst",
        # About 100 upstream calls a page: as bench/fair_share_loads.py's analysts, not as agents.
        rate=2.0,
        concurrency=2,
        # A page costs some 0.1 s of the gateway's CPU: 100 pages measure it well enough,
        # and keep `make bench` within its 10 minutes.
        closed_requests=100,
    ),
    Scenario(
        name="support_down",
        description="whole view, cold, with support answering 503 (partial answers)",
        rounds=1,
        expected_calls=None,
        bodies=lambda c: whole_view_bodies(c.source_down_emails()),
        faults={"support": {"error_rate": 1.0, "error_status": 503}},
    ),
    Scenario(
        name="slow_source_stale_cache",
        description=(
            "whole view of 4 customers, cached, billing hanging and due for a fetch: agents "
            "are served billing STALE after their stale-if-slow budget (one worker)"
        ),
        # Nothing to wait for upstream: CRM, support and orders are cached and fresh, and
        # billing is waited for the agents' budget (0.15 s) at most.
        rounds=0,
        expected_calls=None,
        bodies=lambda c: whole_view_bodies(c.emails[:4]),
        faults={"billing": {"hang": True}},
        warm_up=True,
        warm_up_requests=200,
        # One worker: each worker has a cache of its own, and the load's keep-alive
        # connections may all reach one of them; the stale value must be in the one asked.
        gateway_env={**BILLING_ALWAYS_DUE, "SCV_WORKERS": "1"},
    ),
    Scenario(
        name="call_flow",
        description="IVR handoff, claim, whole view with the interaction token (timed as one)",
        # The handoff waits for the IVR's confirmation, the view for its panels.
        rounds=2,
        # The IVR contact, then the whole view's four.
        expected_calls=(WHOLE_VIEW_CALLS[0] + 1, WHOLE_VIEW_CALLS[1] + 1),
        bodies=lambda c: [],
        requires="claimInteraction",
    ),
]
