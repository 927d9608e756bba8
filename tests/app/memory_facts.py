"""An in-memory ``CustomerFactsStore`` for export tests: known rows, and a way to pause a stream.

Only the filters the export tests use are honoured (``delinquent``, ``min_open_tickets``);
the order is always oldest customer first, as exports ask. A cursor is ``mem:<customer id>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kernel.customer_facts import (
    CustomerFacts,
    CustomerFactsPage,
    CustomerFilter,
    CustomerOrder,
)
from kernel.identity import CustomerId
from kernel.models import Source

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def customer_facts(n: int, *, name: str | None = None) -> CustomerFacts:
    """The ``n``-th customer of a known dataset: every third is delinquent."""
    return CustomerFacts(
        customer_id=CustomerId(f"cus-{n:06d}"),
        display_name=name if name is not None else f"Person{n} Surname{n}",
        created_at=EPOCH + timedelta(minutes=n),
        linked_sources=(Source.BILLING, Source.CRM),
        balance=Decimal(f"{n}.50"),
        currency="GBP",
        delinquent=n % 3 == 0,
        subscription_status="ACTIVE",
        open_ticket_count=n % 5,
        last_ticket_at=None,
        last_contact_at=EPOCH,
        country="GB",
        billing_taken_at=EPOCH,
        support_taken_at=EPOCH,
        crm_taken_at=None,
    )


def _matches(row: CustomerFacts, customer_filter: CustomerFilter) -> bool:
    if customer_filter.delinquent is not None and row.delinquent != customer_filter.delinquent:
        return False
    minimum = customer_filter.min_open_tickets
    return minimum is None or (row.open_ticket_count or 0) >= minimum


@dataclass
class MemoryFacts:
    """Rows in creation order. ``pause_after`` batches, a stream waits for ``resume``."""

    rows: list[CustomerFacts]
    pause_after: int | None = None
    #: Set once a stream has paused (its batches so far are written).
    paused: asyncio.Event = field(default_factory=asyncio.Event)
    resume: asyncio.Event = field(default_factory=asyncio.Event)
    #: The ``after`` each stream started from, in order.
    streams_from: list[str | None] = field(default_factory=list)

    def _selected(self, customer_filter: CustomerFilter) -> list[CustomerFacts]:
        return [row for row in self.rows if _matches(row, customer_filter)]

    async def page_customers(
        self, customer_filter: CustomerFilter, order: CustomerOrder, first: int, after: str | None
    ) -> CustomerFactsPage:
        raise NotImplementedError

    async def count_customers_matching(self, customer_filter: CustomerFilter) -> int:
        return len(self._selected(customer_filter))

    async def stream_customers(
        self,
        customer_filter: CustomerFilter,
        order: CustomerOrder,
        batch_size: int = 1000,
        after: str | None = None,
    ) -> AsyncIterator[tuple[list[CustomerFacts], str]]:
        self.streams_from.append(after)
        rows = self._selected(customer_filter)
        start = 0
        if after is not None:
            if not after.startswith("mem:"):
                raise ValueError("not a cursor of this store")
            ids = [row.customer_id for row in rows]
            start = ids.index(CustomerId(after.removeprefix("mem:"))) + 1
        batches = 0
        while start < len(rows):
            if self.pause_after is not None and batches == self.pause_after:
                self.paused.set()
                await self.resume.wait()
            batch = rows[start : start + batch_size]
            start += len(batch)
            batches += 1
            yield batch, f"mem:{batch[-1].customer_id}"
