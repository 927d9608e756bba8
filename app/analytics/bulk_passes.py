"""Each system's pass of the whole facts refresh (``app.analytics.refresh``), and the rules
that make its facts from its records (the webhook updater applies the same rules to one
customer's).

A pass reads its system's bulk listing page by page, stages each page and applies the whole
pass to the read model in one statement at its end; it returns how many records it read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import datetime, timedelta

from adapters.ivr.port import IvrAdapter
from app.analytics.settings import CustomersSettings
from app.store.backlog import BacklogPass
from app.store.facts_writer import BillingFacts, CrmFacts, FactsRefreshSession
from kernel.models import (
    FINISHED_TICKET_STATUSES,
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    Subscription,
    SubscriptionStatus,
    SupportUserId,
    Ticket,
)
from kernel.normalize import normalize_phone

__all__ = [
    "SUBSCRIPTION_RELEVANCE",
    "billing_facts",
    "billing_pass",
    "call_pass",
    "crm_pass",
    "most_relevant_status",
    "open_ticket_facts",
    "subscription_pass",
    "ticket_pass",
]

Clock = Callable[[], datetime]

#: Most relevant first: the order that picks a customer's subscription status.
SUBSCRIPTION_RELEVANCE: tuple[SubscriptionStatus, ...] = (
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.PAUSED,
    SubscriptionStatus.INCOMPLETE,
    SubscriptionStatus.CANCELED,
    SubscriptionStatus.UNKNOWN,
)
_RANK = {status: rank for rank, status in enumerate(SUBSCRIPTION_RELEVANCE)}

#: IVR caller numbers are staged this many at a time.
_CALL_BATCH = 1000


def most_relevant_status(subscriptions: Iterable[Subscription]) -> SubscriptionStatus | None:
    """The status of the most relevant subscription (``SUBSCRIPTION_RELEVANCE``), if any."""
    return min((s.status for s in subscriptions), key=_RANK.__getitem__, default=None)


def open_ticket_facts(tickets: Iterable[Ticket]) -> tuple[int, datetime | None]:
    """How many tickets are open (not solved or closed), and when the newest was opened."""
    open_count = 0
    newest: datetime | None = None
    for ticket in tickets:
        if ticket.status not in FINISHED_TICKET_STATUSES:
            open_count += 1
        if newest is None or ticket.created_at > newest:
            newest = ticket.created_at
    return open_count, newest


def billing_facts(customer: BillingCustomer) -> BillingFacts:
    return BillingFacts(
        external_id=customer.id,
        balance=customer.balance.amount,
        currency=customer.balance.currency,
        delinquent=customer.delinquent,
    )


async def crm_pass(
    session: FactsRefreshSession, pages: AsyncIterator[list[CrmContact]], clock: Clock
) -> int:
    taken_at, seen = clock(), 0
    async with session.staged("crm"):
        async for page in pages:
            seen += len(page)
            await session.stage_crm(
                [CrmFacts(c.id, c.address.country if c.address else None) for c in page]
            )
        await session.apply_crm(taken_at)
    return seen


async def billing_pass(
    session: FactsRefreshSession, pages: AsyncIterator[list[BillingCustomer]], clock: Clock
) -> int:
    taken_at, seen = clock(), 0
    async with session.staged("billing"):
        async for page in pages:
            seen += len(page)
            await session.stage_billing([billing_facts(customer) for customer in page])
        await session.apply_billing(taken_at)
    return seen


async def subscription_pass(
    session: FactsRefreshSession,
    pages: AsyncIterator[list[tuple[BillingCustomerId, Subscription]]],
) -> int:
    seen = 0
    async with session.staged("subscriptions"):
        async for page in pages:
            seen += len(page)
            await session.stage_subscriptions(
                [(customer, _RANK[sub.status], sub.status.value) for customer, sub in page]
            )
        await session.apply_subscriptions()
    return seen


async def ticket_pass(
    session: FactsRefreshSession,
    pages: AsyncIterator[list[tuple[SupportUserId, Ticket]]],
    clock: Clock,
    backlog: BacklogPass,
) -> int:
    taken_at, seen = clock(), 0
    async with session.staged("tickets"):
        async for page in pages:
            seen += len(page)
            backlog.see(ticket for _, ticket in page)  # the KPIs' backlog, read here anyway
            by_requester: dict[SupportUserId, list[Ticket]] = defaultdict(list)
            for requester, ticket in page:
                by_requester[requester].append(ticket)
            staged = []
            for requester, tickets in by_requester.items():
                open_count, newest = open_ticket_facts(tickets)
                if newest is not None:
                    staged.append((requester, open_count, newest))
            await session.stage_tickets(staged)
        await session.apply_tickets(taken_at)
    await backlog.apply(taken_at)
    return seen


async def call_pass(
    session: FactsRefreshSession,
    ivr: IvrAdapter,
    settings: CustomersSettings,
    default_region: str,
    clock: Clock,
) -> int:
    since = clock() - timedelta(days=settings.call_lookback_days)
    contacts = await ivr.list_contacts(since)
    calls = [
        (e164, contact.initiated_at)
        for contact in contacts
        if contact.caller_number
        and (e164 := normalize_phone(contact.caller_number, default_region)) is not None
    ]
    async with session.staged("calls"):
        for start in range(0, len(calls), _CALL_BATCH):
            await session.stage_calls(calls[start : start + _CALL_BATCH])
        await session.apply_calls()
    return len(contacts)
