"""In-memory fakes of the adapter Protocols, and builders of canonical records, for tests.

Each fake is built from canonical records and behaves as the Protocol says: unknown ids are
absent from batch reads and raise ``UpstreamNotFound`` from single reads, searches match
email case-insensitively and phone exactly on the stored string (as the vendors do), and
``iter_*`` yields pages of ``page_size`` records in the order given.

Every fake counts its calls, so tests can assert how often a system was asked:

- ``calls``: ``Counter`` of method name -> calls. ``iter_*`` counts one call per page
  fetched, as the HTTP adapters make one request per page.
- ``call_log``: every call with its arguments, in order (``Call("get_contacts", (ids,))``).
- ``errors``: method name -> ``UpstreamError`` to raise from that method (after counting),
  to test how a failing system is handled; ``errors_after``: method name -> how many calls
  succeed before it starts failing (0 by default: every call fails).
- ``delay`` (seconds) is awaited before each call.

``named_customers()`` returns the sandbox's named customers (sandbox/README.md) as fakes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, TypeVar

from adapters.support.port import UserChanges
from kernel.errors import UpstreamError, UpstreamNotFound, UpstreamRejected
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    CrmContactId,
    Invoice,
    InvoiceList,
    IvrContact,
    IvrContactId,
    IvrContactSummary,
    PaymentCard,
    PaymentCardList,
    Source,
    Subscription,
    SubscriptionList,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketList,
)
from tests.builders import (
    _utc_now,
)

__all__ = [
    "Call",
    "FakeBillingAdapter",
    "FakeCrmAdapter",
    "FakeIvrAdapter",
    "FakeSupportAdapter",
    "ManualClock",
]

_T = TypeVar("_T")
Clock = Callable[[], datetime]


# --- the fakes -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One call made to a fake: the method's name and its arguments."""

    method: str
    args: tuple[object, ...]


class _FakeAdapter:
    """Call counting, injected errors and delays, and paging, shared by the fakes."""

    source: ClassVar[Source]

    def __init__(self, *, page_size: int, clock: Clock | None, delay: float) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.page_size = page_size
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.call_log: list[Call] = []
        self.errors: dict[str, UpstreamError] = {}
        self.errors_after: dict[str, int] = {}
        self._clock = clock or _utc_now

    async def _called(self, method: str, *args: object) -> None:
        self.calls[method] += 1
        self.call_log.append(Call(method, args))
        if self.delay:
            await asyncio.sleep(self.delay)
        error = self.errors.get(method)
        if error is not None and self.calls[method] > self.errors_after.get(method, 0):
            raise error

    def _not_found(self, what: str) -> UpstreamNotFound:
        return UpstreamNotFound(self.source, f"no such {what}")

    async def _pages(self, method: str, items: Iterable[_T]) -> AsyncIterator[list[_T]]:
        # Snapshot first: a test may change the data while a sync is paging through it.
        snapshot = list(items)
        for start in range(0, max(len(snapshot), 1), self.page_size):
            await self._called(method, start)
            page = snapshot[start : start + self.page_size]
            if page:
                yield page


def _email_matches(stored: str | None, wanted: str | None) -> bool:
    return wanted is not None and stored is not None and stored.lower() == wanted.lower()


def _phone_matches(stored: str | None, wanted: str | None) -> bool:
    return wanted is not None and stored is not None and stored == wanted


class FakeBillingAdapter(_FakeAdapter):
    """``BillingAdapter`` over in-memory customers and their subscriptions, invoices, cards.

    Per-customer reads of a customer id it does not hold raise ``UpstreamNotFound``.
    """

    source: ClassVar[Source] = Source.BILLING

    def __init__(
        self,
        customers: Iterable[BillingCustomer] = (),
        *,
        subscriptions: Mapping[str, Sequence[Subscription]] | None = None,
        invoices: Mapping[str, Sequence[Invoice]] | None = None,
        cards: Mapping[str, Sequence[PaymentCard]] | None = None,
        page_size: int = 100,
        clock: Clock | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(page_size=page_size, clock=clock, delay=delay)
        self.customers: dict[str, BillingCustomer] = {c.id: c for c in customers}
        self.subscriptions: dict[str, list[Subscription]] = {
            key: list(value) for key, value in (subscriptions or {}).items()
        }
        self.invoices: dict[str, list[Invoice]] = {
            key: list(value) for key, value in (invoices or {}).items()
        }
        self.cards: dict[str, list[PaymentCard]] = {
            key: list(value) for key, value in (cards or {}).items()
        }

    def _known(self, customer_id: BillingCustomerId) -> None:
        if customer_id not in self.customers:
            raise self._not_found("customer")

    async def get_customer(self, customer_id: BillingCustomerId) -> BillingCustomer:
        """One customer; ``UpstreamNotFound`` if there is none with this id."""
        await self._called("get_customer", customer_id)
        self._known(customer_id)
        return self.customers[customer_id]

    async def list_subscriptions(self, customer_id: BillingCustomerId) -> SubscriptionList:
        """Every subscription of the customer, canceled ones included."""
        await self._called("list_subscriptions", customer_id)
        self._known(customer_id)
        return SubscriptionList(
            customer_id=customer_id,
            items=tuple(self.subscriptions.get(customer_id, ())),
            fetched_at=self._clock(),
        )

    async def get_customer_with_subscriptions(
        self, customer_id: BillingCustomerId
    ) -> tuple[BillingCustomer, SubscriptionList]:
        """The customer and every subscription of theirs, as one call."""
        await self._called("get_customer_with_subscriptions", customer_id)
        self._known(customer_id)
        return self.customers[customer_id], SubscriptionList(
            customer_id=customer_id,
            items=tuple(self.subscriptions.get(customer_id, ())),
            fetched_at=self._clock(),
        )

    async def list_invoices(self, customer_id: BillingCustomerId, limit: int) -> InvoiceList:
        """The newest ``limit`` invoices; a limit outside 1..100 is rejected, as Stripe does."""
        await self._called("list_invoices", customer_id, limit)
        if not 1 <= limit <= 100:
            raise UpstreamRejected(self.source, "limit must be between 1 and 100")
        self._known(customer_id)
        newest_first = sorted(
            self.invoices.get(customer_id, ()), key=lambda item: item.created_at, reverse=True
        )
        return InvoiceList(
            customer_id=customer_id, items=tuple(newest_first[:limit]), fetched_at=self._clock()
        )

    async def list_payment_cards(self, customer_id: BillingCustomerId) -> PaymentCardList:
        """The customer's cards on file."""
        await self._called("list_payment_cards", customer_id)
        self._known(customer_id)
        return PaymentCardList(
            customer_id=customer_id,
            items=tuple(self.cards.get(customer_id, ())),
            fetched_at=self._clock(),
        )

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[BillingCustomer]:
        """Customers whose email (case-insensitive) or phone (exact) equals the one given."""
        await self._called("search_customers", email, phone)
        return [
            customer
            for customer in self.customers.values()
            if _email_matches(customer.email, email) or _phone_matches(customer.phone, phone)
        ]

    async def iter_customers(self) -> AsyncIterator[list[BillingCustomer]]:
        """Every customer, ``page_size`` at a time, in the order given."""
        async for page in self._pages("iter_customers", self.customers.values()):
            yield page

    async def iter_customers_created_since(
        self, since: datetime
    ) -> AsyncIterator[list[BillingCustomer]]:
        """Customers created at or after ``since``, ``page_size`` at a time."""
        created = [c for c in self.customers.values() if c.created_at >= since]
        async for page in self._pages("iter_customers_created_since", created):
            yield page

    async def iter_subscriptions(
        self,
    ) -> AsyncIterator[list[tuple[BillingCustomerId, Subscription]]]:
        """Every subscription with its customer, ``page_size`` at a time."""
        every = (
            (BillingCustomerId(customer_id), sub)
            for customer_id, subs in self.subscriptions.items()
            for sub in subs
        )
        async for page in self._pages("iter_subscriptions", every):
            yield page


class FakeCrmAdapter(_FakeAdapter):
    """``CrmAdapter`` over in-memory contacts."""

    source: ClassVar[Source] = Source.CRM

    def __init__(
        self,
        contacts: Iterable[CrmContact] = (),
        *,
        page_size: int = 100,
        clock: Clock | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(page_size=page_size, clock=clock, delay=delay)
        self.contacts: dict[str, CrmContact] = {c.id: c for c in contacts}

    async def get_contacts(self, ids: Sequence[CrmContactId]) -> dict[CrmContactId, CrmContact]:
        """The contacts with these ids; unknown ids are absent (one call however many)."""
        await self._called("get_contacts", tuple(ids))
        return {
            CrmContactId(contact_id): self.contacts[contact_id]
            for contact_id in ids
            if contact_id in self.contacts
        }

    async def search_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]:
        """Contacts whose email (case-insensitive) or phone (exact) equals the one given."""
        await self._called("search_contacts", email, phone)
        return [
            contact
            for contact in self.contacts.values()
            if _email_matches(contact.email, email) or _phone_matches(contact.phone, phone)
        ]

    async def iter_contacts(self) -> AsyncIterator[list[CrmContact]]:
        """Every contact, ``page_size`` at a time, in the order given."""
        async for page in self._pages("iter_contacts", self.contacts.values()):
            yield page

    async def iter_contacts_modified_since(
        self, since: datetime
    ) -> AsyncIterator[list[CrmContact]]:
        """Contacts modified at or after ``since``, oldest change first."""
        modified = sorted(
            (c for c in self.contacts.values() if c.updated_at >= since),
            key=lambda c: (c.updated_at, c.id),
        )
        async for page in self._pages("iter_contacts_modified_since", modified):
            yield page


class FakeSupportAdapter(_FakeAdapter):
    """``SupportAdapter`` over in-memory end users and the tickets they requested."""

    source: ClassVar[Source] = Source.SUPPORT

    def __init__(
        self,
        users: Iterable[SupportUser] = (),
        *,
        tickets: Mapping[str, Sequence[Ticket]] | None = None,
        page_size: int = 100,
        clock: Clock | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(page_size=page_size, clock=clock, delay=delay)
        self.users: dict[str, SupportUser] = {u.id: u for u in users}
        self.tickets: dict[str, list[Ticket]] = {
            key: list(value) for key, value in (tickets or {}).items()
        }

    async def get_users(self, ids: Sequence[SupportUserId]) -> dict[SupportUserId, SupportUser]:
        """The users with these ids; unknown ids are absent (one call however many)."""
        await self._called("get_users", tuple(ids))
        return {
            SupportUserId(user_id): self.users[user_id] for user_id in ids if user_id in self.users
        }

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        """Every ticket the user requested, newest first; ``UpstreamNotFound`` if no such user."""
        await self._called("list_requested_tickets", user_id)
        if user_id not in self.users:
            raise self._not_found("user")
        newest_first = sorted(
            self.tickets.get(user_id, ()), key=lambda item: item.created_at, reverse=True
        )
        return TicketList(user_id=user_id, items=tuple(newest_first), fetched_at=self._clock())

    async def search_users(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[SupportUser]:
        """End users whose email (case-insensitive) or phone (exact) equals the one given."""
        await self._called("search_users", email, phone)
        return [
            user
            for user in self.users.values()
            if _email_matches(user.email, email) or _phone_matches(user.phone, phone)
        ]

    async def iter_users(self) -> AsyncIterator[list[SupportUser]]:
        """Every end user, ``page_size`` at a time, in the order given."""
        async for page in self._pages("iter_users", self.users.values()):
            yield page

    async def iter_user_changes(self, start: datetime | str) -> AsyncIterator[UserChanges]:
        """Users changed at or after a time, or after a cursor (``<updated_at>|<id>``).

        Like Zendesk's export, an empty export still hands back a cursor to resume from.
        """
        if isinstance(start, datetime):
            position: tuple[datetime, str] = (start, "")
            changed = [u for u in self.users.values() if u.updated_at >= start]
        else:
            when, _, user_id = start.partition("|")
            position = (datetime.fromisoformat(when), user_id)
            changed = [u for u in self.users.values() if (u.updated_at, u.id) > position]
        changed.sort(key=lambda u: (u.updated_at, u.id))
        empty = True
        async for page in self._pages("iter_user_changes", changed):
            empty = False
            position = (page[-1].updated_at, page[-1].id)
            yield UserChanges(users=tuple(page), cursor=f"{position[0].isoformat()}|{position[1]}")
        if empty:
            yield UserChanges(users=(), cursor=f"{position[0].isoformat()}|{position[1]}")

    async def iter_tickets(self) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
        """Every ticket with its requester, ``page_size`` at a time."""
        every = (
            (SupportUserId(user_id), ticket)
            for user_id, tickets in self.tickets.items()
            for ticket in tickets
        )
        async for page in self._pages("iter_tickets", every):
            yield page


class FakeIvrAdapter(_FakeAdapter):
    """``IvrAdapter`` over in-memory contacts (attributes) and the contact list."""

    source: ClassVar[Source] = Source.IVR

    def __init__(
        self,
        contacts: Iterable[IvrContact] = (),
        *,
        summaries: Iterable[IvrContactSummary] = (),
        clock: Clock | None = None,
        delay: float = 0.0,
    ) -> None:
        super().__init__(page_size=100, clock=clock, delay=delay)
        self.contacts: dict[str, IvrContact] = {c.contact_id: c for c in contacts}
        self.summaries: list[IvrContactSummary] = list(summaries)

    async def get_contact(self, contact_id: IvrContactId) -> IvrContact:
        """The attributes of one contact; ``UpstreamNotFound`` if there is no such contact."""
        await self._called("get_contact", contact_id)
        if contact_id not in self.contacts:
            raise self._not_found("contact")
        return self.contacts[contact_id]

    async def list_contacts(self, since: datetime) -> list[IvrContactSummary]:
        """Contacts initiated at or after ``since``, oldest first."""
        await self._called("list_contacts", since)
        return sorted(
            (summary for summary in self.summaries if summary.initiated_at >= since),
            key=lambda summary: summary.initiated_at,
        )


class ManualClock:
    """A clock (seconds, as a float) that moves only when a test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
