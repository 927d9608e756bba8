"""Filling the ``customer_facts`` read model from the systems, and keeping it current.

``refresh_facts`` (run by ``scv sync`` after the identity pass) reads every system in bulk,
page by page, staging each page in PostgreSQL before reading the next (so memory does not
grow with the number of customers), and applies each system's pass to the read model in one
statement at its end:

- CRM contacts (the list): country of the address;
- billing customers (the list): balance, currency, delinquent;
- every subscription (Stripe's list without ``customer``): the subscription status;
- every ticket (Zendesk's List Tickets): open ticket count and the newest ticket's time;
- IVR contacts of the last ``call_lookback_days``: each customer's last call, by the caller
  number's E.164 among the customer's phone lookup keys;
- every record of each source whose registry entry declares facts of its own (the orders
  database: order count, open orders, last order), as the entry computes them
  (``app.analytics.source_facts``).

Rules, so that an analyst can say what a fact means:

- A customer's facts of one system come from the record the panels show (the first linked,
  ``CustomerRecord.link_for``), never from a mix of records.
- Subscription status: the most relevant of the customer's subscriptions, in this order:
  ACTIVE, PAST_DUE, UNPAID, TRIALING, PAUSED, INCOMPLETE, CANCELED, UNKNOWN (a live or
  troubled subscription says more about the customer than an ended one); NULL when none.
- Open tickets: tickets not SOLVED or CLOSED. Last contact: the newest of the last call and
  the newest ticket's creation.
- Each group's ``taken_at`` is when its pass started: the facts are at least that new.

``FactsUpdater`` refreshes one customer's group from its system when a webhook says a
record changed; an upstream failure is logged (source and error kind only, never a value)
and counted, and never fails the webhook.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from prometheus_client import Counter

from adapters.billing.port import BillingAdapter
from adapters.crm.port import CrmAdapter
from adapters.entry import SourceSpec
from adapters.ivr.port import IvrAdapter
from adapters.support.port import SupportAdapter
from app.analytics.bulk_passes import (
    SUBSCRIPTION_RELEVANCE,
    billing_facts,
    billing_pass,
    call_pass,
    crm_pass,
    most_relevant_status,
    open_ticket_facts,
    subscription_pass,
    ticket_pass,
)
from app.analytics.settings import CustomersSettings
from app.analytics.source_facts import facts_sources, source_facts_pass
from app.store.backlog import NO_BACKLOG, BacklogPass, TicketBacklogStore
from app.store.facts_writer import FactsRefreshSession, FactsWriter
from kernel.errors import UpstreamError
from kernel.identity import CustomerId, IdentityStore
from kernel.models import (
    BillingCustomerId,
    CrmContactId,
    Source,
    SupportUserId,
)
from resolvers.context import Sources

__all__ = [
    "SUBSCRIPTION_RELEVANCE",
    "FactsRefreshReport",
    "FactsUpdater",
    "most_relevant_status",
    "refresh_facts",
]

_logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FactsRefreshReport:
    """How many records of each system one refresh read, and how long it took."""

    crm_contacts: int
    billing_customers: int
    subscriptions: int
    tickets: int
    calls: int
    duration_seconds: float
    #: The records each source with facts of its own gave, by what they are called
    #: (``orders``), in registry order.
    source_records: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def format_line(self) -> str:
        """One line for the command line."""
        others = "".join(f", {count} {noun}" for noun, count in self.source_records.items())
        return (
            f"customer facts: {self.crm_contacts} contacts, {self.billing_customers} billing "
            f"customers, {self.subscriptions} subscriptions, {self.tickets} tickets, "
            f"{self.calls} calls{others} ({self.duration_seconds:.1f} s)"
        )


async def refresh_facts_from(
    writer: FactsWriter, sources: Sources, settings: CustomersSettings, default_region: str
) -> FactsRefreshReport:
    """``refresh_facts`` over the gateway's sources, as ``scv sync`` runs it."""
    return await refresh_facts(
        writer,
        sources.billing,
        sources.crm,
        sources.support,
        sources.ivr,
        settings,
        default_region,
        adapters=sources.by_source,
        backlog=BacklogPass(TicketBacklogStore(writer.pool, writer.tenant), Source.SUPPORT),
    )


async def refresh_facts(
    writer: FactsWriter,
    billing: BillingAdapter,
    crm: CrmAdapter,
    support: SupportAdapter,
    ivr: IvrAdapter,
    settings: CustomersSettings,
    default_region: str,
    clock: Clock = _utc_now,
    *,
    adapters: Mapping[Source, object] | None = None,
    registry: Sequence[SourceSpec] | None = None,
    backlog: BacklogPass = NO_BACKLOG,
) -> FactsRefreshReport:
    """Fill ``customer_facts`` for every customer, from every system, in bulk.

    ``adapters`` holds every source's adapter by source: of those, the sources whose entry
    in ``registry`` (the source registry unless given) declares facts bring theirs.

    Run after the identity sync (facts follow the links it made). The passes run at once,
    as many as ``writer``'s pool has connections. The first upstream error propagates:
    passes applied before it stay written, a pass under way leaves the read model as it
    was (its staged rows are dropped with its transaction).
    """
    started = time.monotonic()
    async with writer.session() as session:
        await session.ensure_rows()

    async def run(one_pass: Callable[[FactsRefreshSession], Awaitable[int]]) -> int:
        async with writer.session() as session:
            return await one_pass(session)

    # The passes read different systems (or lists): concurrently, their upstream waits
    # overlap; a failing one cancels the others, whose staged rows go with their
    # transactions, and its error is raised as it is (not as a group of one).
    try:
        async with asyncio.TaskGroup() as passes:
            crm_count = passes.create_task(run(lambda s: crm_pass(s, crm.iter_contacts(), clock)))
            billing_count = passes.create_task(
                run(lambda s: billing_pass(s, billing.iter_customers(), clock))
            )
            subscription_count = passes.create_task(
                run(lambda s: subscription_pass(s, billing.iter_subscriptions()))
            )
            ticket_count = passes.create_task(
                run(lambda s: ticket_pass(s, support.iter_tickets(), clock, backlog))
            )
            call_count = passes.create_task(
                run(lambda s: call_pass(s, ivr, settings, default_region, clock))
            )
            own_facts = [
                (
                    found,
                    passes.create_task(run(partial(source_facts_pass, source=found, clock=clock))),
                )
                for found in facts_sources(adapters or {}, registry)
            ]
    except ExceptionGroup as failed:
        raise failed.exceptions[0]  # noqa: B904 - the group's only useful member
    report = FactsRefreshReport(
        crm_contacts=crm_count.result(),
        billing_customers=billing_count.result(),
        subscriptions=subscription_count.result(),
        tickets=ticket_count.result(),
        calls=call_count.result(),
        duration_seconds=time.monotonic() - started,
        source_records={found.spec.records: task.result() for found, task in own_facts},
    )
    _logger.debug("%s", report.format_line())
    return report


@dataclass(frozen=True, slots=True)
class ChangedFactsReport:
    """What a refresh of the changed records' facts did (after an incremental sync)."""

    records: int
    refreshed: int
    duration_seconds: float

    def format_line(self) -> str:
        """One line for the command line."""
        return (
            f"customer facts: {self.refreshed} of {self.records} changed records re-read "
            f"(incremental; the others left as they were; {self.duration_seconds:.1f} s)"
        )


async def refresh_changed_facts(
    updater: FactsUpdater,
    writer: FactsWriter,
    changed: Mapping[Source, Iterable[str]],
    concurrency: int,
) -> ChangedFactsReport:
    """Re-read the facts of the records an incremental sync read, and nothing else.

    Every customer's row (and its linked systems) is brought up to date first, in one
    statement; then each changed record's group of facts is read from its system, at most
    ``concurrency`` at once. A record whose system fails is logged and counted by the
    updater and left for the next refresh (a webhook, or the next full sync's bulk pass).
    """
    started = time.monotonic()
    async with writer.session() as session:
        await session.ensure_rows()
    limit = asyncio.Semaphore(max(1, concurrency))
    records = [(source, record) for source, ids in changed.items() for record in ids]

    async def refresh(source: Source, record: str) -> bool:
        async with limit:
            return await updater.refresh_record(source, record)

    done = await asyncio.gather(*(refresh(source, record) for source, record in records))
    return ChangedFactsReport(
        records=len(records), refreshed=sum(done), duration_seconds=time.monotonic() - started
    )


class FactsUpdater:
    """Refreshes one customer's facts of one system when a webhook says a record changed."""

    def __init__(
        self,
        store: IdentityStore,
        writer: FactsWriter,
        billing: BillingAdapter,
        crm: CrmAdapter,
        support: SupportAdapter,
        *,
        adapters: Mapping[Source, object] | None = None,
        registry: Sequence[SourceSpec] | None = None,
        updates: Counter | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        """``adapters``: every source's adapter by source; those whose entry in ``registry``
        (the source registry unless given) declares facts have theirs re-read."""
        self._store = store
        self._writer = writer
        self._billing = billing
        self._crm = crm
        self._support = support
        self._own_facts = {found.source: found for found in facts_sources(adapters or {}, registry)}
        self._updates = updates
        self._clock = clock

    async def refresh_record(self, source: Source, record_id: str) -> bool:
        """Re-read the facts ``record_id`` of ``source`` gives its customer; True if written.

        Nothing is written when no customer shows that record (not linked, or not the
        record its panels show). An upstream error is logged and counted and returns False;
        a store error propagates (the caller decides what the vendor is told).
        """
        customer_id = await self._store.find_by_source_id(source, record_id)
        if customer_id is None:
            self._count(source, "unlinked")
            return False
        records = await self._store.get_customers([customer_id])
        record = records.get(customer_id)
        link = record.link_for(source) if record is not None else None
        if link is None or link.external_id != record_id:
            self._count(source, "not_shown")
            return False
        await self._writer.ensure_customer(customer_id)
        try:
            await self._read_and_write(source, customer_id, record_id)
        except UpstreamError as exc:
            self._count(source, "failed")
            _logger.warning(
                "could not refresh customer facts from a webhook",
                extra={"source": source.value, "error": type(exc).__name__},
            )
            return False
        self._count(source, "refreshed")
        return True

    async def _read_and_write(self, source: Source, customer_id: CustomerId, record: str) -> None:
        taken_at = self._clock()
        if source is Source.BILLING:
            billing_id = BillingCustomerId(record)
            customer = await self._billing.get_customer(billing_id)
            subscriptions = await self._billing.list_subscriptions(billing_id)
            status = most_relevant_status(subscriptions.items)
            await self._writer.set_billing(
                customer_id,
                billing_facts(customer),
                status.value if status is not None else None,
                taken_at,
            )
        elif source is Source.CRM:
            found = await self._crm.get_contacts([CrmContactId(record)])
            contact = found.get(CrmContactId(record))
            country = contact.address.country if contact and contact.address else None
            await self._writer.set_crm(customer_id, country, taken_at)
        elif source is Source.SUPPORT:
            tickets = await self._support.list_requested_tickets(SupportUserId(record))
            open_count, newest = open_ticket_facts(tickets.items)
            await self._writer.set_support(customer_id, open_count, newest, taken_at)
        # A source's own facts (its entry's), beside any of the columns above.
        if (own := self._own_facts.get(source)) is not None:
            records = await own.spec.read_one(own.adapter, record)
            values = own.spec.compute(records)
            await self._writer.set_source_facts(customer_id, source, own.spec, values, taken_at)

    def _count(self, source: Source, outcome: str) -> None:
        if self._updates is not None:
            self._updates.labels(source.value, outcome).inc()
