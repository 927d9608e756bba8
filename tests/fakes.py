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
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, TypeVar

from adapters.billing.port import BillingAdapter
from adapters.crm.port import CrmAdapter
from adapters.ivr.port import IvrAdapter
from adapters.support.port import SupportAdapter, UserChanges
from kernel.errors import UpstreamError, UpstreamNotFound, UpstreamRejected
from kernel.models import (
    Address,
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    CrmContactId,
    Invoice,
    InvoiceId,
    InvoiceList,
    InvoiceStatus,
    IvrContact,
    IvrContactId,
    IvrContactSummary,
    Money,
    PaymentCard,
    PaymentCardList,
    Source,
    Subscription,
    SubscriptionId,
    SubscriptionList,
    SubscriptionStatus,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketId,
    TicketList,
    TicketStatus,
)

__all__ = [
    "ADA_PHONE",
    "T0",
    "Call",
    "FakeBillingAdapter",
    "FakeCrmAdapter",
    "FakeIvrAdapter",
    "FakeSupportAdapter",
    "FakeSystems",
    "billing_customer",
    "crm_contact",
    "invoice",
    "ivr_contact",
    "ivr_contact_summary",
    "money",
    "named_customers",
    "payment_card",
    "subscription",
    "support_user",
    "ticket",
]

#: The default timestamp of every builder: fixed, so records compare equal across runs.
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)

_T = TypeVar("_T")
Clock = Callable[[], datetime]
AmountLike = Decimal | int | str


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- builders ------------------------------------------------------------------------------


def money(amount: AmountLike = 0, currency: str = "GBP") -> Money:
    """An exact amount in major units: ``money("12.50")``."""
    return Money(amount=Decimal(amount), currency=currency)


def crm_contact(
    id: str,
    first: str | None = None,
    last: str | None = None,
    *,
    email: str | None = None,
    phone: str | None = None,
    billing_id: str | None = None,
    address: Address | None = None,
    created_at: datetime = T0,
    updated_at: datetime | None = None,
    fetched_at: datetime | None = None,
) -> CrmContact:
    """A CRM contact; ``billing_id`` is its cross-reference to a billing customer."""
    return CrmContact(
        id=CrmContactId(id),
        first_name=first,
        last_name=last,
        email=email,
        phone=phone,
        address=address,
        billing_customer_id=None if billing_id is None else BillingCustomerId(billing_id),
        created_at=created_at,
        updated_at=updated_at or created_at,
        fetched_at=fetched_at or _utc_now(),
    )


def billing_customer(
    id: str,
    name: str | None = None,
    *,
    email: str | None = None,
    phone: str | None = None,
    balance: AmountLike = 0,
    currency: str = "GBP",
    delinquent: bool = False,
    address: Address | None = None,
    created_at: datetime = T0,
    fetched_at: datetime | None = None,
) -> BillingCustomer:
    """A billing customer; ``balance`` is what they owe, in major units."""
    return BillingCustomer(
        id=BillingCustomerId(id),
        name=name,
        email=email,
        phone=phone,
        address=address,
        balance=money(balance, currency),
        delinquent=delinquent,
        created_at=created_at,
        fetched_at=fetched_at or _utc_now(),
    )


def support_user(
    id: str,
    name: str | None = None,
    *,
    email: str | None = None,
    phone: str | None = None,
    external_id: str | None = None,
    created_at: datetime = T0,
    updated_at: datetime | None = None,
    fetched_at: datetime | None = None,
) -> SupportUser:
    """A support end user; ``external_id`` is the CRM contact id, when the user has one."""
    return SupportUser(
        id=SupportUserId(id),
        name=name,
        email=email,
        phone=phone,
        external_id=external_id,
        created_at=created_at,
        updated_at=updated_at or created_at,
        fetched_at=fetched_at or _utc_now(),
    )


_TICKET_WORDS = {TicketStatus.WAITING_ON_CUSTOMER: "pending", TicketStatus.ON_HOLD: "hold"}


def ticket(
    id: str,
    subject: str = "Help",
    *,
    status: TicketStatus = TicketStatus.OPEN,
    source_status: str | None = None,
    priority: str | None = "normal",
    created_at: datetime = T0,
    updated_at: datetime | None = None,
) -> Ticket:
    """A ticket; ``source_status`` defaults to the Zendesk word for ``status``."""
    return Ticket(
        id=TicketId(id),
        subject=subject,
        status=status,
        source_status=source_status or _TICKET_WORDS.get(status, status.value.lower()),
        priority=priority,
        created_at=created_at,
        updated_at=updated_at or created_at,
    )


def subscription(
    id: str,
    *,
    status: SubscriptionStatus = SubscriptionStatus.ACTIVE,
    source_status: str | None = None,
    plan_name: str | None = "Pro",
    amount: AmountLike = "15.00",
    currency: str = "GBP",
    interval: str | None = "month",
    current_period_end: datetime | None = None,
    cancel_at_period_end: bool = False,
    created_at: datetime = T0,
) -> Subscription:
    """A subscription; ``source_status`` defaults to the Stripe word for ``status``."""
    return Subscription(
        id=SubscriptionId(id),
        status=status,
        source_status=source_status or status.value.lower(),
        plan_name=plan_name,
        amount=money(amount, currency),
        interval=interval,
        current_period_end=current_period_end or created_at + timedelta(days=30),
        cancel_at_period_end=cancel_at_period_end,
        created_at=created_at,
    )


def invoice(
    id: str,
    *,
    status: InvoiceStatus = InvoiceStatus.PAID,
    source_status: str | None = None,
    number: str | None = None,
    amount_due: AmountLike = "15.00",
    amount_paid: AmountLike | None = None,
    currency: str = "GBP",
    created_at: datetime = T0,
    due_date: datetime | None = None,
    paid_at: datetime | None = None,
) -> Invoice:
    """An invoice; ``amount_paid`` defaults to all of it when PAID, else nothing."""
    due = Decimal(amount_due)
    if amount_paid is None:
        paid = due if status is InvoiceStatus.PAID else Decimal(0)
    else:
        paid = Decimal(amount_paid)
    return Invoice(
        id=InvoiceId(id),
        number=number,
        status=status,
        source_status=source_status or status.value.lower(),
        amount_due=money(due, currency),
        amount_paid=money(paid, currency),
        amount_remaining=money(due - paid, currency),
        created_at=created_at,
        due_date=due_date,
        paid_at=paid_at or (created_at if status is InvoiceStatus.PAID else None),
    )


def payment_card(
    id: str, *, brand: str = "visa", last4: str = "4242", exp_month: int = 12, exp_year: int = 2030
) -> PaymentCard:
    """A card on file."""
    return PaymentCard(id=id, brand=brand, last4=last4, exp_month=exp_month, exp_year=exp_year)


def ivr_contact(
    contact_id: str,
    *,
    caller_number: str | None = None,
    ref_type: str | None = None,
    ref_value: str | None = None,
    auth_method: str | None = None,
    auth_result: str | None = None,
    auth_score: float | None = None,
    attributes: Mapping[str, str] | None = None,
    fetched_at: datetime | None = None,
) -> IvrContact:
    """An IVR contact; ``attributes`` default to the canonical fields in Connect's names."""
    named = {
        "CallerNumber": caller_number,
        "CustomerRefType": ref_type,
        "CustomerRefValue": ref_value,
        "AuthMethod": auth_method,
        "AuthResult": auth_result,
        "AuthScore": None if auth_score is None else str(auth_score),
    }
    return IvrContact(
        contact_id=IvrContactId(contact_id),
        caller_number=caller_number,
        customer_ref_type=ref_type,
        customer_ref_value=ref_value,
        auth_method=auth_method,
        auth_result=auth_result,
        auth_score=auth_score,
        attributes=dict(attributes)
        if attributes is not None
        else {key: value for key, value in named.items() if value is not None},
        fetched_at=fetched_at or _utc_now(),
    )


def ivr_contact_summary(
    contact_id: str, *, caller_number: str | None = None, initiated_at: datetime = T0
) -> IvrContactSummary:
    """One entry of the IVR's contact list."""
    return IvrContactSummary(
        contact_id=IvrContactId(contact_id), caller_number=caller_number, initiated_at=initiated_at
    )


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


# --- the sandbox's named customers ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FakeSystems:
    """One fake of each system, holding the same customers."""

    billing: FakeBillingAdapter
    crm: FakeCrmAdapter
    support: FakeSupportAdapter
    ivr: FakeIvrAdapter

    @property
    def by_source(self) -> dict[Source, object]:
        """Each fake by its source, as the registry's sources are built (``sync_identities``)."""
        return {
            Source.BILLING: self.billing,
            Source.CRM: self.crm,
            Source.SUPPORT: self.support,
            Source.IVR: self.ivr,
        }


class ManualClock:
    """A clock (seconds, as a float) that moves only when a test moves it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def holding(
    crm: FakeCrmAdapter | None = None,
    billing: FakeBillingAdapter | None = None,
    support: FakeSupportAdapter | None = None,
) -> FakeSystems:
    """Fake systems holding just the records given (an empty fake for each system left out)."""
    return FakeSystems(
        billing=billing or FakeBillingAdapter(),
        crm=crm or FakeCrmAdapter(),
        support=support or FakeSupportAdapter(),
        ivr=FakeIvrAdapter(),
    )


ADA_PHONE = "+44 20 7946 0018"


def named_customers(page_size: int = 100) -> FakeSystems:
    """Fresh fakes holding the named customers of sandbox/README.md, and nobody else.

    Ada: in all three systems with both cross-references; Grace: one email, three phone
    formats, no cross-references; Alan: billing email in capitals, support linked only by
    ``external_id``; Katherine: two CRM contacts with one email, billing cross-referenced
    from 1004, support sharing 1004's phone; Edsger: CRM only; Barbara: delinquent, with a
    past-due subscription, two overdue invoices and 150 tickets (40 unfinished).
    Linked by the default rules they make seven customers.
    """
    crm = [
        crm_contact(
            "1001",
            "Ada",
            "Lovelace",
            email="ada.lovelace@example.com",
            phone=ADA_PHONE,
            billing_id="cus_ada",
        ),
        crm_contact(
            "1002", "Grace", "Hopper", email="grace.hopper@example.com", phone="(415) 555-0101"
        ),
        crm_contact("1003", "Alan", "Turing", email="alan.turing@example.com"),
        crm_contact(
            "1004",
            "Katherine",
            "Johnson",
            email="katherine.johnson@example.com",
            phone="(757) 555-0104",
            billing_id="cus_katherine",
        ),
        crm_contact("1005", "Katherine", "Johnson", email="katherine.johnson@example.com"),
        crm_contact("1006", "Edsger", "Dijkstra", email="edsger.dijkstra@example.com"),
        crm_contact(
            "1007", "Barbara", "Liskov", email="barbara.liskov@example.com", phone="+1 617 555 0107"
        ),
    ]
    billing = [
        billing_customer(
            "cus_ada", "Ada Lovelace", email="ada.lovelace@example.com", phone=ADA_PHONE
        ),
        billing_customer(
            "cus_grace", "Grace Hopper", email="grace.hopper@example.com", phone="+14155550101"
        ),
        billing_customer("cus_alan", "Alan Turing", email="ALAN.TURING@EXAMPLE.COM"),
        billing_customer(
            "cus_katherine", "Katherine Johnson", email="katherine.johnson@example.com"
        ),
        billing_customer(
            "cus_barbara",
            "Barbara Liskov",
            email="barbara.liskov@example.com",
            balance="240.00",
            delinquent=True,
        ),
    ]
    support = [
        support_user(
            "9001",
            "Ada Lovelace",
            email="ada.lovelace@example.com",
            phone=ADA_PHONE,
            external_id="1001",
        ),
        support_user(
            "9002", "Grace Hopper", email="grace.hopper@example.com", phone="415.555.0101"
        ),
        support_user("9003", "Alan Turing", email="alan@turing.example", external_id="1003"),
        support_user(
            "9004", "Katherine Johnson", email="katherine.johnson@example.com", phone="+17575550104"
        ),
        support_user("9007", "Barbara Liskov", email="barbara.liskov@example.com"),
    ]
    month = timedelta(days=30)
    ada_invoices = [
        invoice(f"in_ada_{n:02d}", number=f"ADA-{n:04d}", created_at=T0 + n * month)
        for n in range(1, 13)
    ]
    barbara_invoices = [
        invoice(
            f"in_barbara_{n}",
            status=InvoiceStatus.OPEN,
            number=f"BL-{n:04d}",
            amount_due="120.00",
            created_at=T0 + n * month,
            due_date=T0 + n * month + timedelta(days=14),
        )
        for n in (1, 2)
    ]
    unfinished = (TicketStatus.OPEN, TicketStatus.WAITING_ON_CUSTOMER, TicketStatus.ON_HOLD)
    barbara_tickets = [
        ticket(
            f"7{n:04d}",
            f"Billing question {n}",
            status=unfinished[n % 3] if n < 40 else TicketStatus.SOLVED,
            created_at=T0 + timedelta(hours=n),
        )
        for n in range(150)
    ]
    return FakeSystems(
        billing=FakeBillingAdapter(
            billing,
            subscriptions={
                "cus_ada": [subscription("sub_ada")],
                "cus_barbara": [subscription("sub_barbara", status=SubscriptionStatus.PAST_DUE)],
            },
            invoices={"cus_ada": ada_invoices, "cus_barbara": barbara_invoices},
            cards={"cus_ada": [payment_card("pm_ada")]},
            page_size=page_size,
        ),
        crm=FakeCrmAdapter(crm, page_size=page_size),
        support=FakeSupportAdapter(
            support,
            tickets={
                "9001": [
                    ticket("70001", "Cannot log in", status=TicketStatus.OPEN),
                    ticket("70002", "Refund", status=TicketStatus.WAITING_ON_CUSTOMER),
                    ticket("70003", "Invoice copy", status=TicketStatus.SOLVED),
                ],
                "9007": barbara_tickets,
            },
            page_size=page_size,
        ),
        ivr=FakeIvrAdapter(
            [
                ivr_contact(
                    "contact-ada-0001",
                    caller_number="+442079460018",
                    ref_type="PHONE",
                    ref_value="+442079460018",
                    auth_method="PIN",
                    auth_result="AUTHENTICATED",
                    auth_score=0.97,
                )
            ],
            summaries=[ivr_contact_summary("contact-ada-0001", caller_number="+442079460018")],
        ),
    )


if TYPE_CHECKING:
    # mypy proves here that each fake implements its Protocol in full.
    _billing: BillingAdapter = FakeBillingAdapter()
    _crm: CrmAdapter = FakeCrmAdapter()
    _support: SupportAdapter = FakeSupportAdapter()
    _ivr: IvrAdapter = FakeIvrAdapter()
