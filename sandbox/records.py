"""The sandbox's data: one store per system of record, holding plain mutable rows.

Rows keep what the vendor keeps, in compact form (Unix seconds for every timestamp); the
vendor modules (``billing_shapes``, ``crm_shapes``, ``support_shapes``, ``ivr``) render them
in each vendor's JSON shape. Nothing here knows about HTTP, so later code (write endpoints,
webhooks) can change a row through ``Table.update`` and every read sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.table import Table

#: The dataset's "now": 2024-06-01T00:00:00Z. Every generated timestamp is derived from it,
#: so that one seed gives byte-identical data on every run.
REFERENCE_TIME = 1_717_200_000

DAY = 86_400


# --- billing (Stripe) -------------------------------------------------------------------


@dataclass(slots=True)
class PostalAddress:
    """An address as billing keeps it (``country`` is ISO 3166 alpha-2)."""

    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


@dataclass(slots=True)
class BillingCustomer:
    """A Stripe customer."""

    id: str
    name: str | None
    email: str | None
    phone: str | None
    address: PostalAddress | None
    currency: str | None
    created: int
    balance: int = 0
    delinquent: bool = False
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Price:
    """A catalogue price, shared by every subscription item that uses it."""

    id: str
    nickname: str
    unit_amount: int
    currency: str
    interval: str


@dataclass(slots=True)
class Subscription:
    """A Stripe subscription with its single item."""

    id: str
    customer: str
    status: str
    price: Price
    item_id: str
    created: int
    current_period_end: int
    quantity: int = 1
    cancel_at_period_end: bool = False


@dataclass(slots=True)
class Invoice:
    """A Stripe invoice (amounts in minor units)."""

    id: str
    customer: str
    number: str | None
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    created: int
    due_date: int | None
    paid_at: int | None
    subscription: str | None

    @property
    def amount_remaining(self) -> int:
        """What is still to be paid: nothing once paid or voided."""
        if self.status in ("paid", "void"):
            return 0
        return self.amount_due - self.amount_paid


@dataclass(slots=True)
class PaymentMethod:
    """A card on file."""

    id: str
    customer: str
    created: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


class BillingStore:
    """Billing customers and what hangs off them."""

    def __init__(self) -> None:
        self.customers: Table[str, BillingCustomer] = Table(
            key=lambda c: c.id,
            order=lambda c: (c.created, c.id),
            indexes={
                "email": lambda c: _lower(c.email),
                "phone": lambda c: c.phone,
                "name": lambda c: _lower(c.name),
            },
        )
        self.subscriptions: Table[str, Subscription] = Table(
            key=lambda s: s.id,
            order=lambda s: (s.created, s.id),
            indexes={"customer": lambda s: s.customer},
        )
        self.invoices: Table[str, Invoice] = Table(
            key=lambda i: i.id,
            order=lambda i: (i.created, i.id),
            indexes={"customer": lambda i: i.customer, "subscription": lambda i: i.subscription},
        )
        self.payment_methods: Table[str, PaymentMethod] = Table(
            key=lambda p: p.id,
            order=lambda p: (p.created, p.id),
            indexes={"customer": lambda p: p.customer},
        )


# --- CRM (HubSpot) ----------------------------------------------------------------------


@dataclass(slots=True)
class CrmContact:
    """A HubSpot contact: an id and a bag of string properties, as HubSpot keeps them.

    ``createdate``, ``lastmodifieddate`` and ``hs_object_id`` are not in the bag: they are
    rendered from ``created``, ``updated`` and ``id``.
    """

    id: str
    properties: dict[str, str | None]
    created: int
    updated: int
    archived: bool = False


def _crm_order(contact: CrmContact) -> tuple[int, str]:
    return (int(contact.id), contact.id)


class CrmStore:
    """CRM contacts, listed by numeric id as HubSpot lists them."""

    def __init__(self) -> None:
        self.contacts: Table[str, CrmContact] = Table(
            key=lambda c: c.id,
            order=_crm_order,
            indexes={
                "email": lambda c: _lower(c.properties.get("email")),
                "phone": lambda c: c.properties.get("phone"),
            },
        )

    def next_id(self) -> str:
        """An id for a new contact, after every existing one."""
        order = self.contacts.order()
        return str(order[-1][0] + 1 if order else 1001)


# --- support (Zendesk) ------------------------------------------------------------------


@dataclass(slots=True)
class SupportUser:
    """A Zendesk user (all generated ones are end users)."""

    id: int
    name: str
    email: str | None
    phone: str | None
    external_id: str | None
    created: int
    updated: int
    role: str = "end-user"
    active: bool = True


@dataclass(slots=True)
class Ticket:
    """A Zendesk ticket."""

    id: int
    requester_id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    created: int
    updated: int


class SupportStore:
    """Support end users and the tickets they requested."""

    def __init__(self) -> None:
        self.users: Table[int, SupportUser] = Table(
            key=lambda u: u.id,
            order=lambda u: (u.id, u.id),
            indexes={
                "email": lambda u: _lower(u.email),
                "phone": lambda u: u.phone,
                "external_id": lambda u: u.external_id,
            },
        )
        self.tickets: Table[int, Ticket] = Table(
            key=lambda t: t.id,
            order=lambda t: (t.created, t.id),
            indexes={"requester": lambda t: t.requester_id},
        )


# --- IVR (Amazon Connect) ---------------------------------------------------------------


@dataclass(slots=True)
class IvrContact:
    """One contact (call) and the flat string attributes the IVR flow set on it."""

    id: str
    initiated: int
    caller_number: str | None
    attributes: dict[str, str]
    channel: str = "VOICE"


class IvrStore:
    """IVR contacts, listed oldest first."""

    def __init__(self) -> None:
        self.contacts: Table[str, IvrContact] = Table(
            key=lambda c: c.id, order=lambda c: (c.initiated, c.id)
        )


@dataclass(slots=True)
class Dataset:
    """The four systems' data, generated from ``seed`` with ``customers`` generated people."""

    seed: int
    customers: int
    billing: BillingStore = field(default_factory=BillingStore)
    crm: CrmStore = field(default_factory=CrmStore)
    support: SupportStore = field(default_factory=SupportStore)
    ivr: IvrStore = field(default_factory=IvrStore)

    def tables(self) -> dict[str, Table[Any, Any]]:
        """Every table of the four systems, by a unique name."""
        return {
            "billing.customers": self.billing.customers,
            "billing.subscriptions": self.billing.subscriptions,
            "billing.invoices": self.billing.invoices,
            "billing.payment_methods": self.billing.payment_methods,
            "crm.contacts": self.crm.contacts,
            "support.users": self.support.users,
            "support.tickets": self.support.tickets,
            "ivr.contacts": self.ivr.contacts,
        }
