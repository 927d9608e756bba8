"""Canonical records for tests, built with defaults: a customer, an invoice, a ticket, ...
of any system."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kernel.models import (
    Address,
    BillingCustomer,
    BillingCustomerId,
    CrmContact,
    CrmContactId,
    Invoice,
    InvoiceId,
    InvoiceStatus,
    IvrContact,
    IvrContactId,
    IvrContactSummary,
    Money,
    PaymentCard,
    Subscription,
    SubscriptionId,
    SubscriptionStatus,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketId,
    TicketStatus,
)

#: The default timestamp of every builder: fixed, so records compare equal across runs.
T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
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
