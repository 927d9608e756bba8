"""Stripe's shapes as the billing adapter reads them, and their translation to canonical.

Stripe sends timestamps as Unix seconds and amounts as integers in the currency's minor
unit with a lower-case ISO code (``1500`` + ``"gbp"`` is GBP 15.00).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import Field

from adapters.taxonomy import Taxonomy
from adapters.wire import WireModel, address_or_none, text
from kernel.models import (
    BillingCustomer,
    BillingCustomerId,
    Invoice,
    InvoiceId,
    InvoiceStatus,
    Money,
    PaymentCard,
    Subscription,
    SubscriptionId,
    SubscriptionStatus,
)

#: Unix seconds, bounded so that converting to ``datetime`` cannot overflow.
UnixTime = Annotated[int, Field(ge=0, le=253_402_300_799)]

#: Currencies whose Stripe amounts have no minor unit (``500`` + ``"jpy"`` is JPY 500).
#: Stripe's documented list (https://docs.stripe.com/currencies#zero-decimal), not ISO
#: 4217's exponents, which would misread some amounts: ISK is zero-decimal in ISO but stays
#: two-decimal in Stripe's API (multiples of 100), as do HUF and TWD though charged whole,
#: and MGA is zero-decimal at Stripe though ISO gives it two.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
#: Currencies whose Stripe amounts have three decimals (``5120`` + ``"kwd"`` is KWD 5.120).
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

#: ISO 4217's "no currency": a customer's balance before Stripe has fixed its currency.
NO_CURRENCY = "XXX"


def currency_exponent(currency: str) -> int:
    """How many decimals Stripe's integer amounts carry in ``currency`` (ISO code)."""
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def to_money(minor_units: int, currency: str) -> Money:
    """A Stripe amount in minor units as an exact ``Money`` in major units."""
    code = currency.upper()
    return Money(amount=Decimal(minor_units).scaleb(-currency_exponent(code)), currency=code)


def from_unix(seconds: int) -> datetime:
    """Unix seconds as an aware UTC ``datetime``."""
    return datetime.fromtimestamp(seconds, UTC)


def describe_stripe_error(body: Any) -> str | None:
    """Stripe's error ``code`` (``resource_missing``), else its ``type``; never ``message``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for key in ("code", "type"):
        value = error.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class StripeObject(WireModel):
    id: str


ObjectT = TypeVar("ObjectT", bound=StripeObject)


class StripeList(WireModel, Generic[ObjectT]):
    data: list[ObjectT]
    has_more: bool


class StripeSearchResult(WireModel, Generic[ObjectT]):
    data: list[ObjectT]
    has_more: bool
    next_page: str | None = None


class StripeAddress(WireModel):
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class StripeCustomer(StripeObject):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: StripeAddress | None = None
    balance: int
    currency: str | None = None
    # Stripe documents ``delinquent`` as nullable: unknown is not delinquent.
    delinquent: bool | None = None
    created: UnixTime


class StripeRecurring(WireModel):
    interval: str


class StripePrice(WireModel):
    nickname: str | None = None
    # Required: a tiered or metered price has none, and we cannot state its amount.
    unit_amount: int
    currency: str
    recurring: StripeRecurring | None = None


class StripeSubscriptionItem(WireModel):
    quantity: int | None = None
    price: StripePrice
    # Since API version 2025-03-31 the period lives on the item, not the subscription.
    current_period_end: UnixTime | None = None


class StripeSubscriptionItems(WireModel):
    data: list[StripeSubscriptionItem] = Field(min_length=1)


class StripeSubscriptionFields(StripeObject):
    """What a subscription says of itself, whatever its ``customer`` holds."""

    status: str
    cancel_at_period_end: bool = False
    current_period_end: UnixTime | None = None
    created: UnixTime
    items: StripeSubscriptionItems


class StripeSubscription(StripeSubscriptionFields):
    # Optional: the per-customer list is read by customer already; the list of every
    # subscription (the facts refresh) needs it, and skips a subscription without one.
    customer: str | None = None


class StripeExpandedSubscription(StripeSubscriptionFields):
    """A subscription listed with ``expand[]=data.customer``: its customer whole."""

    customer: StripeCustomer


class StripeStatusTransitions(WireModel):
    paid_at: UnixTime | None = None


class StripeInvoice(StripeObject):
    number: str | None = None
    status: str
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    created: UnixTime
    due_date: UnixTime | None = None
    status_transitions: StripeStatusTransitions = StripeStatusTransitions()


class StripeCard(WireModel):
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class StripePaymentMethod(StripeObject):
    card: StripeCard


# Each list the adapter reads, parametrised once here and held. pydantic keeps parametrised
# generics in a WeakValueDictionary, so ``StripeList[StripeInvoice]`` written at a call site
# built a new model class, schema and validator whenever the garbage collector had taken the
# previous one: measured (cProfile, cold whole views) on 2,976 of 3,000 calls, some 15% of a
# cold view's CPU.
StripeCustomerList = StripeList[StripeCustomer]
StripeCustomerSearch = StripeSearchResult[StripeCustomer]
StripeSubscriptionList = StripeList[StripeSubscription]
StripeExpandedSubscriptionList = StripeList[StripeExpandedSubscription]
StripeInvoiceList = StripeList[StripeInvoice]
StripePaymentMethodList = StripeList[StripePaymentMethod]


def to_customer(wire: StripeCustomer, fetched_at: datetime) -> BillingCustomer:
    """The canonical customer of a Stripe customer."""
    address = wire.address or StripeAddress()
    return BillingCustomer(
        id=BillingCustomerId(wire.id),
        name=text(wire.name),
        email=text(wire.email),
        phone=text(wire.phone),
        address=address_or_none(
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.state,
            postal_code=address.postal_code,
            country=address.country,
        ),
        balance=to_money(wire.balance, wire.currency or NO_CURRENCY),
        delinquent=bool(wire.delinquent),
        created_at=from_unix(wire.created),
        fetched_at=fetched_at,
    )


def to_subscription(
    wire: StripeSubscriptionFields, statuses: Taxonomy[SubscriptionStatus]
) -> Subscription:
    """The canonical subscription of a Stripe one.

    The canonical model has one amount, so it is the first item's ``unit_amount`` times
    its quantity (a missing quantity is 1, as Stripe defaults it): exact for the usual
    one-price subscription, and the first price only for multi-item ones.
    """
    item = wire.items.data[0]
    quantity = 1 if item.quantity is None else item.quantity
    period_end = wire.current_period_end or item.current_period_end
    return Subscription(
        id=SubscriptionId(wire.id),
        status=statuses.map(wire.status),
        source_status=wire.status,
        plan_name=text(item.price.nickname),
        amount=to_money(item.price.unit_amount * quantity, item.price.currency),
        interval=item.price.recurring.interval if item.price.recurring else None,
        current_period_end=from_unix(period_end) if period_end is not None else None,
        cancel_at_period_end=wire.cancel_at_period_end,
        created_at=from_unix(wire.created),
    )


def to_invoice(wire: StripeInvoice, statuses: Taxonomy[InvoiceStatus]) -> Invoice:
    """The canonical invoice of a Stripe one."""
    paid_at = wire.status_transitions.paid_at
    return Invoice(
        id=InvoiceId(wire.id),
        number=text(wire.number),
        status=statuses.map(wire.status),
        source_status=wire.status,
        amount_due=to_money(wire.amount_due, wire.currency),
        amount_paid=to_money(wire.amount_paid, wire.currency),
        amount_remaining=to_money(wire.amount_remaining, wire.currency),
        created_at=from_unix(wire.created),
        due_date=from_unix(wire.due_date) if wire.due_date is not None else None,
        paid_at=from_unix(paid_at) if paid_at is not None else None,
    )


def to_payment_card(wire: StripePaymentMethod) -> PaymentCard:
    """Brand, last four and expiry of a card payment method; nothing else is kept."""
    return PaymentCard(
        id=wire.id,
        brand=wire.card.brand,
        last4=wire.card.last4,
        exp_month=wire.card.exp_month,
        exp_year=wire.card.exp_year,
    )
