"""The canonical vocabulary: what every adapter returns, whatever its vendor calls things.

Models are frozen pydantic models; ids are ``NewType``s so that a ticket id cannot be
passed where a customer id goes. Each record a panel is built from carries ``fetched_at``
(when the gateway read it from the system of record) so the answer can say how old it is.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import NewType

from pydantic import BaseModel, ConfigDict

BillingCustomerId = NewType("BillingCustomerId", str)
CrmContactId = NewType("CrmContactId", str)
SupportUserId = NewType("SupportUserId", str)
TicketId = NewType("TicketId", str)
SubscriptionId = NewType("SubscriptionId", str)
InvoiceId = NewType("InvoiceId", str)
IvrContactId = NewType("IvrContactId", str)


class Source(StrEnum):
    """A system of record behind the gateway."""

    BILLING = "BILLING"
    CRM = "CRM"
    SUPPORT = "SUPPORT"
    IVR = "IVR"
    ORDERS = "ORDERS"


class CacheState(StrEnum):
    """How the gateway's response cache answered for a record.

    MISS: fetched from the system just now; HIT: from the cache, within its fresh lifetime;
    STALE: from the cache past its fresh lifetime (refreshing in the background, or the
    system failed and the last good value was served instead of a blank panel).
    """

    HIT = "HIT"
    MISS = "MISS"
    STALE = "STALE"


class TicketStatus(StrEnum):
    NEW = "NEW"
    OPEN = "OPEN"
    WAITING_ON_CUSTOMER = "WAITING_ON_CUSTOMER"
    ON_HOLD = "ON_HOLD"
    SOLVED = "SOLVED"
    CLOSED = "CLOSED"
    UNKNOWN = "UNKNOWN"


class SubscriptionStatus(StrEnum):
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    UNPAID = "UNPAID"
    CANCELED = "CANCELED"
    INCOMPLETE = "INCOMPLETE"
    PAUSED = "PAUSED"
    UNKNOWN = "UNKNOWN"


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"
    VOID = "VOID"
    UNKNOWN = "UNKNOWN"


#: Ticket statuses that count as "open" for ``openTicketCount``: anything not finished.
FINISHED_TICKET_STATUSES = frozenset({TicketStatus.SOLVED, TicketStatus.CLOSED})


class Canonical(BaseModel):
    """Base of every canonical model: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(Canonical):
    """An exact amount in major units (``Decimal``) with its ISO 4217 currency code."""

    amount: Decimal
    currency: str


class Address(Canonical):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


# --- CRM (system of record for name, contact details and preferences) -------------------


class CrmContact(Canonical):
    id: CrmContactId
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    address: Address | None
    #: Explicit cross-reference to the billing system, when the CRM holds one.
    billing_customer_id: BillingCustomerId | None
    created_at: datetime
    updated_at: datetime
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS
    #: For checking a caller's knowledge answers inside the gateway; never in the graph.
    date_of_birth: date | None = None

    @property
    def name(self) -> str:
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts)


# --- Billing (system of record for money) ------------------------------------------------


class BillingCustomer(Canonical):
    id: BillingCustomerId
    name: str | None
    email: str | None
    phone: str | None
    address: Address | None
    #: What the customer owes on their next invoice (Stripe's ``balance``; negative is credit).
    balance: Money
    delinquent: bool
    created_at: datetime
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


class Subscription(Canonical):
    id: SubscriptionId
    status: SubscriptionStatus
    source_status: str
    plan_name: str | None
    amount: Money
    interval: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created_at: datetime


class SubscriptionList(Canonical):
    customer_id: BillingCustomerId
    items: tuple[Subscription, ...]
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


class Invoice(Canonical):
    id: InvoiceId
    number: str | None
    status: InvoiceStatus
    source_status: str
    amount_due: Money
    amount_paid: Money
    amount_remaining: Money
    created_at: datetime
    due_date: datetime | None
    paid_at: datetime | None


class InvoiceList(Canonical):
    """Newest first, as the vendor lists them."""

    customer_id: BillingCustomerId
    items: tuple[Invoice, ...]
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


class PaymentCard(Canonical):
    """A card on file: never more than brand, last four and expiry."""

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class PaymentCardList(Canonical):
    customer_id: BillingCustomerId
    items: tuple[PaymentCard, ...]
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


# --- Support (system of record for tickets) ----------------------------------------------


class SupportUser(Canonical):
    id: SupportUserId
    name: str | None
    email: str | None
    phone: str | None
    #: Zendesk's ``external_id``: the CRM contact id, on the users that have one.
    external_id: str | None
    created_at: datetime
    updated_at: datetime
    fetched_at: datetime


class Ticket(Canonical):
    id: TicketId
    subject: str
    status: TicketStatus
    source_status: str
    priority: str | None
    created_at: datetime
    updated_at: datetime


class TicketList(Canonical):
    """Every ticket the user requested, newest first."""

    user_id: SupportUserId
    items: tuple[Ticket, ...]
    fetched_at: datetime
    #: Set by the response cache (app/cache/response_cache.py); adapters always leave MISS.
    cache_state: CacheState = CacheState.MISS


# --- IVR (system of record for verification events) --------------------------------------


class IvrContact(Canonical):
    """The attributes an IVR flow set on one contact (call), in canonical names."""

    contact_id: IvrContactId
    caller_number: str | None
    customer_ref_type: str | None
    customer_ref_value: str | None
    auth_method: str | None
    auth_result: str | None
    auth_score: float | None
    #: Every attribute as the IVR set it, for what the canonical fields do not name.
    attributes: dict[str, str]
    fetched_at: datetime


class IvrContactSummary(Canonical):
    contact_id: IvrContactId
    caller_number: str | None
    initiated_at: datetime
