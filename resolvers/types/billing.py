"""The billing panel: balance, subscriptions, invoices and cards, from the billing system.

The panel is lazy: ``BillingAccount`` holds the billing id and each field loads its own
resource, so that the customer record, subscriptions and invoices are fetched concurrently
rather than one after the other, and a resource no field asks for is not fetched. When the
query asks for both the customer record's fields (balance, delinquency, meta) and the
subscriptions, the two come from one combined read (one upstream call, not two).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from kernel import models
from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from kernel.models import BillingCustomerId
from resolvers.extensions.masking import mask_card_last4, personal, withhold
from resolvers.types.common import (
    Info,
    InvoiceStatus,
    Money,
    PanelMeta,
    SubscriptionStatus,
    check_first,
)


@strawberry.type(description="A billing subscription (a plan the customer pays for).")
class BillingSubscription:
    id: strawberry.ID
    status: SubscriptionStatus
    source_status: str
    plan_name: str | None
    amount: Money
    interval: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created_at: datetime

    @classmethod
    def from_model(cls, sub: models.Subscription) -> BillingSubscription:
        return cls(
            id=strawberry.ID(sub.id),
            status=sub.status,
            source_status=sub.source_status,
            plan_name=sub.plan_name,
            amount=Money.from_model(sub.amount),
            interval=sub.interval,
            current_period_end=sub.current_period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            created_at=sub.created_at,
        )


@strawberry.type
class Invoice:
    id: strawberry.ID
    number: str | None
    status: InvoiceStatus
    source_status: str
    amount_due: Money
    amount_paid: Money
    amount_remaining: Money
    created_at: datetime
    due_date: datetime | None
    paid_at: datetime | None
    overdue: bool = strawberry.field(description="Open, with its due date in the past.")

    @classmethod
    def from_model(cls, invoice: models.Invoice, now: datetime) -> Invoice:
        overdue = (
            invoice.status is models.InvoiceStatus.OPEN
            and invoice.due_date is not None
            and invoice.due_date < now
        )
        return cls(
            id=strawberry.ID(invoice.id),
            number=invoice.number,
            status=invoice.status,
            source_status=invoice.source_status,
            amount_due=Money.from_model(invoice.amount_due),
            amount_paid=Money.from_model(invoice.amount_paid),
            amount_remaining=Money.from_model(invoice.amount_remaining),
            created_at=invoice.created_at,
            due_date=invoice.due_date,
            paid_at=invoice.paid_at,
            overdue=overdue,
        )


@strawberry.type(description="A card on file: brand, last four and expiry, never more.")
class PaymentCard:
    owner: strawberry.Private[CustomerId]
    id: strawberry.ID
    brand: str
    last4: str | None = personal(VerificationLevel.LOW, mask_card_last4)
    exp_month: int | None = personal(VerificationLevel.HIGH, withhold)
    exp_year: int | None = personal(VerificationLevel.HIGH, withhold)


#: The panel's fields read from the billing customer record.
CUSTOMER_RECORD_FIELDS = frozenset({"balance", "delinquent", "meta"})


def reads_together(selected: frozenset[str]) -> bool:
    """Whether a panel selecting ``selected`` reads the customer and subscriptions together."""
    return "subscriptions" in selected and not CUSTOMER_RECORD_FIELDS.isdisjoint(selected)


@strawberry.type(description="Money, from the billing system (its system of record).")
class BillingAccount:
    owner: strawberry.Private[CustomerId]
    billing_id: strawberry.Private[BillingCustomerId]
    #: The query asks for the subscriptions and the customer record's fields alike: both
    #: are read together (``Customer.billing`` decides, from the selection).
    together: strawberry.Private[bool] = False

    async def _customer(self, info: Info) -> models.BillingCustomer:
        loaders = info.context.loaders
        if self.together:
            customer, _ = await loaders.billing_customers_with_subscriptions.load(self.billing_id)
            return customer
        return await loaders.billing_customers.load(self.billing_id)

    @strawberry.field(description="What the customer owes on the next invoice; negative is credit.")
    async def balance(self, info: Info) -> Money:
        customer = await self._customer(info)
        return Money.from_model(customer.balance)

    @strawberry.field(description="The billing system's own delinquency flag.")
    async def delinquent(self, info: Info) -> bool:
        customer = await self._customer(info)
        return customer.delinquent

    @strawberry.field(description="Every subscription, canceled ones included.")
    async def subscriptions(self, info: Info) -> list[BillingSubscription]:
        loaders = info.context.loaders
        if self.together:
            _, found = await loaders.billing_customers_with_subscriptions.load(self.billing_id)
        else:
            found = await loaders.subscriptions.load(self.billing_id)
        return [BillingSubscription.from_model(sub) for sub in found.items]

    @strawberry.field(description="The newest invoices first; `first` is 1..100.")
    async def invoices(self, info: Info, first: int | None = 10) -> list[Invoice]:
        limit = check_first(first, default=10)
        found = await info.context.loaders.invoices.load((self.billing_id, limit))
        now = found.fetched_at
        return [Invoice.from_model(invoice, now) for invoice in found.items]

    @strawberry.field(description="Cards on file.")
    async def payment_cards(self, info: Info) -> list[PaymentCard]:
        found = await info.context.loaders.payment_cards.load(self.billing_id)
        return [
            PaymentCard(
                owner=self.owner,
                id=strawberry.ID(card.id),
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            )
            for card in found.items
        ]

    async def shadow_record_id(self, info: Info) -> str:
        """The billing record this panel found (a shadow read's comparison, not a field)."""
        customer = await self._customer(info)
        return str(customer.id)

    @strawberry.field
    async def meta(self, info: Info) -> PanelMeta:
        customer = await self._customer(info)
        return PanelMeta(
            source=models.Source.BILLING,
            source_record_id=strawberry.ID(customer.id),
            fetched_at=customer.fetched_at,
            cache_state=customer.cache_state,
        )
