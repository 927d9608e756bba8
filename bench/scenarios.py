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
  }
}"""

BY_PHONE = """query ByPhone($phone: String!) {
  customerByPhone(phone: $phone) { id displayName links { source externalId matchedBy } }
}"""

#: Upstream calls of one whole view of a customer known to all three systems: the CRM
#: contact (one batch read), the billing customer, subscriptions and invoices, the tickets.
WHOLE_VIEW_CALLS = 5


@dataclass(frozen=True)
class Customers:
    """Lookup values of customers linked to billing, CRM and support alike."""

    emails: list[str]
    phones: list[str]

    def cold_half(self) -> list[str]:
        """Emails for the cold whole view: customers no other scenario fetches."""
        return self.emails[: len(self.emails) // 2]

    def other_half(self) -> list[str]:
        """Emails for the scenario with a source down: cold too, and not the same customers."""
        return self.emails[len(self.emails) // 2 :]


async def _linked_customers(database_url: str, limit: int) -> Customers:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            """
            select k.kind, k.value
            from lookup_keys k
            where k.source = 'CRM'
              and k.customer_id in (
                select customer_id from identity_links
                group by customer_id
                having count(distinct source) filter
                  (where source in ('BILLING', 'CRM', 'SUPPORT')) = 3
              )
            order by k.customer_id
            """
        )
    finally:
        await conn.close()
    emails = [r["value"] for r in rows if r["kind"] == "email"][:limit]
    phones = [r["value"] for r in rows if r["kind"] == "phone"][:limit]
    return Customers(emails=emails, phones=phones)


def linked_customers(database_url: str, limit: int = 100_000) -> Customers:
    return asyncio.run(_linked_customers(database_url, limit))


@dataclass(frozen=True)
class Scenario:
    """One kind of request, with how to build its bodies and what its floor is."""

    name: str
    description: str
    rounds: int
    expected_calls: float | None
    bodies: Callable[[Customers], list[dict[str, Any]]]
    #: Faults applied for the scenario's duration: system -> fault settings.
    faults: dict[str, dict[str, object]] = field(default_factory=dict)
    #: Requests sent (and not measured) first, so that the cache is warm.
    warm_up: bool = False
    #: A schema field the scenario needs; skipped with a line when the schema lacks it.
    requires: str | None = None
    #: Why the scenario is not measured yet although its feature exists, if it is not.
    pending: str | None = None


def whole_view_bodies(emails: list[str]) -> list[dict[str, Any]]:
    return [
        {"query": WHOLE_VIEW, "variables": {"email": e}, "operationName": "WholeView"}
        for e in emails
    ]


SCENARIOS = [
    Scenario(
        name="whole_view_cold",
        description="whole-customer view, each request a different customer",
        rounds=1,
        expected_calls=WHOLE_VIEW_CALLS,
        bodies=lambda c: whole_view_bodies(c.cold_half()),
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
        description="a page of 50 customers with panels (analysts)",
        rounds=1,
        expected_calls=None,
        bodies=lambda c: [],
        requires="CustomerConnection",
        pending="the page query is written once the analyst issue lands",
    ),
    Scenario(
        name="support_down",
        description="whole view, cold, with support answering 503 (partial answers)",
        rounds=1,
        expected_calls=None,
        bodies=lambda c: whole_view_bodies(c.other_half()),
        faults={"support": {"error_rate": 1.0, "error_status": 503}},
    ),
    Scenario(
        name="call_flow",
        description="IVR handoff, claim, whole view",
        rounds=2,
        expected_calls=None,
        bodies=lambda c: [],
        requires="claimInteraction",
        pending="the handoff-claim-view flow is not scripted in the load process yet",
    ),
]
