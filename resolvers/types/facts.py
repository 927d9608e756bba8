"""``CustomerFacts`` in the graph: a customer's row of the read model, and how old it is.

The facts are what analysts filter pages of customers by (``Query.customers``); they come
from the ``customer_facts`` read model, not from the systems, so reading them costs no
upstream call. Each group says when it was taken from its system, and ``ageSeconds`` how
old the oldest of them is, so nobody mistakes a fact for a live value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import strawberry

from kernel import customer_facts
from kernel.models import Source, SubscriptionStatus


@strawberry.type(description="When each group of facts was read from its system (null: never).")
class FactsTakenAt:
    billing: datetime | None = strawberry.field(
        description="Balance, delinquency and subscription status."
    )
    support: datetime | None = strawberry.field(description="Ticket counts and times.")
    crm: datetime | None = strawberry.field(description="Country.")
    orders: datetime | None = strawberry.field(description="Order counts and times.")


@strawberry.type(
    name="CustomerFacts",
    description="A customer's facts from the gateway's read model (refreshed by the sync and "
    "by webhooks, not read live); a fact is null when its system does not know the customer.",
)
class CustomerFactsView:
    balance: Decimal | None = strawberry.field(
        description="What the customer owes on the next invoice, in `currency`."
    )
    currency: str | None
    delinquent: bool | None
    subscription_status: SubscriptionStatus | None = strawberry.field(
        description="The most relevant subscription's status: ACTIVE, PAST_DUE, UNPAID, "
        "TRIALING, PAUSED, INCOMPLETE, CANCELED, UNKNOWN, in that order; null when none."
    )
    open_ticket_count: int | None = strawberry.field(description="Tickets not solved or closed.")
    last_ticket_at: datetime | None = strawberry.field(description="When the newest was opened.")
    last_contact_at: datetime | None = strawberry.field(
        description="The newest of the customer's last IVR call and last ticket."
    )
    country: str | None = strawberry.field(description="Of the CRM address, as the CRM writes it.")
    linked_sources: list[Source] = strawberry.field(description="The systems that know them.")
    order_count: int | None = strawberry.field(description="Orders placed, in the orders database.")
    open_order_count: int | None = strawberry.field(
        description="Orders not delivered, cancelled or returned."
    )
    last_order_at: datetime | None = strawberry.field(description="When the newest was placed.")
    taken_at: FactsTakenAt

    @strawberry.field(
        description="Seconds since the oldest group of facts was taken (null: none was)."
    )
    def age_seconds(self) -> float | None:
        groups = (self.taken_at.billing, self.taken_at.support, self.taken_at.crm)
        taken = [t for t in (*groups, self.taken_at.orders) if t]
        if not taken:
            return None
        return max(0.0, (datetime.now(UTC) - min(taken)).total_seconds())

    @classmethod
    def from_facts(cls, facts: customer_facts.CustomerFacts) -> CustomerFactsView:
        status = facts.subscription_status
        return cls(
            balance=facts.balance,
            currency=facts.currency,
            delinquent=facts.delinquent,
            subscription_status=SubscriptionStatus(status) if status is not None else None,
            open_ticket_count=facts.open_ticket_count,
            last_ticket_at=facts.last_ticket_at,
            last_contact_at=facts.last_contact_at,
            country=facts.country,
            linked_sources=list(facts.linked_sources),
            order_count=facts.order_count,
            open_order_count=facts.open_order_count,
            last_order_at=facts.last_order_at,
            taken_at=FactsTakenAt(
                billing=facts.billing_taken_at,
                support=facts.support_taken_at,
                crm=facts.crm_taken_at,
                orders=facts.orders_taken_at,
            ),
        )
