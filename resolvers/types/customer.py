"""The GraphQL types of the customer graph.

Scalar fields are plain attributes, filled when the object is built; only fields that do
I/O are async. The billing panel is lazy (``BillingAccount`` holds the billing id and each
field loads its own resource) so that the customer record, subscriptions and invoices are
fetched concurrently rather than one after the other; profile and support each need one
resource, so their panel resolver fetches it and builds the whole panel.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from kernel import models
from kernel.access import VerificationLevel
from kernel.client_errors import BadUserInput
from kernel.identity import CustomerId, CustomerRecord
from kernel.models import FINISHED_TICKET_STATUSES, BillingCustomerId, CrmContactId, SupportUserId
from resolvers.context import RequestContext
from resolvers.extensions.masking import (
    customer_data,
    mask_card_last4,
    mask_email,
    mask_name,
    mask_phone,
    personal,
    redact_free_text,
    withhold,
)

if TYPE_CHECKING:
    # The identity view's types refer back to Customer: lazy both ways (see Customer).
    from resolvers.types.facts import CustomerFactsView
    from resolvers.types.identity import ContactPoints, DuplicateCandidate, FieldConflict

# The canonical enums are the adapters' own: registering them with strawberry (which marks
# the class in place) keeps one definition of each vocabulary.
strawberry.enum(models.Source, description="A system of record behind the gateway.")
strawberry.enum(models.TicketStatus, description="Canonical ticket status.")
strawberry.enum(models.SubscriptionStatus, description="Canonical subscription status.")
strawberry.enum(models.InvoiceStatus, description="Canonical invoice status.")
strawberry.enum(models.CacheState, description="How the gateway's cache answered for a panel.")
Source = models.Source
TicketStatus = models.TicketStatus
SubscriptionStatus = models.SubscriptionStatus
InvoiceStatus = models.InvoiceStatus
CacheState = models.CacheState

Info = strawberry.Info[RequestContext, None]

MAX_LIST = 100


@strawberry.type(description="An exact amount in major units with its ISO 4217 currency.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def from_model(cls, money: models.Money) -> Money:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.type(description="A postal address; masked, only city, region and country remain.")
class Address:
    owner: strawberry.Private[CustomerId]
    line1: str | None = personal(VerificationLevel.MEDIUM, withhold)
    line2: str | None = personal(VerificationLevel.MEDIUM, withhold)
    city: str | None
    region: str | None
    postal_code: str | None = personal(VerificationLevel.MEDIUM, withhold)
    country: str | None

    @classmethod
    def from_model(cls, address: models.Address | None, owner: CustomerId) -> Address | None:
        if address is None:
            return None
        return cls(
            owner=owner,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        )


@strawberry.type(description="Where a panel's values came from, and when they were read.")
class PanelMeta:
    source: Source
    source_record_id: strawberry.ID
    fetched_at: datetime

    @strawberry.field(description="Seconds from fetchedAt to when this answer was built.")
    def age_seconds(self) -> float:
        return max(0.0, (datetime.now(UTC) - self.fetched_at).total_seconds())

    cache: CacheState = strawberry.field(
        description="HIT: cached and fresh; MISS: fetched for this answer; STALE: cached, "
        "past its fresh lifetime (being refreshed, or its system is failing)."
    )

    @strawberry.field(description="Whether the values may be out of date (cache STALE).")
    def stale(self) -> bool:
        return self.cache is CacheState.STALE


@strawberry.type(description="One system's record of the customer, and the rule that linked it.")
class IdentityLink:
    source: Source
    external_id: strawberry.ID
    matched_by: str = strawberry.field(
        description="The rule that linked it: anchor, xref, email, phone, or manual (a person)."
    )
    confidence: float = strawberry.field(
        description="How sure the link is, 0..1: the rule's configured confidence."
    )
    linked_via: str = strawberry.field(
        description="What made the link: sync, live (a lookup), webhook, or manual."
    )
    linked_at: datetime | None


@strawberry.type(description="Name and contact details, from the CRM (their system of record).")
class Profile:
    owner: strawberry.Private[CustomerId]
    name: str | None = personal(VerificationLevel.LOW, mask_name)
    email: str | None = personal(VerificationLevel.MEDIUM, mask_email)
    phone: str | None = personal(VerificationLevel.MEDIUM, mask_phone)
    address: Address | None
    meta: PanelMeta

    @classmethod
    def from_model(cls, contact: models.CrmContact, owner: CustomerId) -> Profile:
        return cls(
            owner=owner,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            address=Address.from_model(contact.address, owner),
            meta=PanelMeta(
                source=models.Source.CRM,
                source_record_id=strawberry.ID(contact.id),
                fetched_at=contact.fetched_at,
                cache=contact.cache_state,
            ),
        )


@strawberry.type
class Subscription:
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
    def from_model(cls, sub: models.Subscription) -> Subscription:
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


@strawberry.type(description="Money, from the billing system (its system of record).")
class BillingAccount:
    owner: strawberry.Private[CustomerId]
    billing_id: strawberry.Private[BillingCustomerId]

    @strawberry.field(description="What the customer owes on the next invoice; negative is credit.")
    async def balance(self, info: Info) -> Money:
        customer = await info.context.loaders.billing_customers.load(self.billing_id)
        return Money.from_model(customer.balance)

    @strawberry.field(description="The billing system's own delinquency flag.")
    async def delinquent(self, info: Info) -> bool:
        customer = await info.context.loaders.billing_customers.load(self.billing_id)
        return customer.delinquent

    @strawberry.field(description="Every subscription, canceled ones included.")
    async def subscriptions(self, info: Info) -> list[Subscription]:
        found = await info.context.loaders.subscriptions.load(self.billing_id)
        return [Subscription.from_model(sub) for sub in found.items]

    @strawberry.field(description="The newest invoices first; `first` is 1..100.")
    async def invoices(self, info: Info, first: int | None = 10) -> list[Invoice]:
        limit = _check_first(first, default=10)
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

    @strawberry.field
    async def meta(self, info: Info) -> PanelMeta:
        customer = await info.context.loaders.billing_customers.load(self.billing_id)
        return PanelMeta(
            source=models.Source.BILLING,
            source_record_id=strawberry.ID(customer.id),
            fetched_at=customer.fetched_at,
            cache=customer.cache_state,
        )


@strawberry.type
class Ticket:
    owner: strawberry.Private[CustomerId]
    id: strawberry.ID
    subject: str | None = personal(
        VerificationLevel.LOW,
        redact_free_text,
        description="The customer's own words: masked, emails and long numbers are hidden.",
    )
    status: TicketStatus
    source_status: str
    priority: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, ticket: models.Ticket, owner: CustomerId) -> Ticket:
        return cls(
            owner=owner,
            id=strawberry.ID(ticket.id),
            subject=ticket.subject,
            status=ticket.status,
            source_status=ticket.source_status,
            priority=ticket.priority,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
        )


@strawberry.type(description="Tickets, from the support system (their system of record).")
class SupportSummary:
    owner: strawberry.Private[CustomerId]
    all_tickets: strawberry.Private[tuple[models.Ticket, ...]]
    open_ticket_count: int = strawberry.field(description="Tickets not solved or closed.")
    meta: PanelMeta

    @classmethod
    def from_model(cls, found: models.TicketList, owner: CustomerId) -> SupportSummary:
        return cls(
            owner=owner,
            all_tickets=found.items,
            open_ticket_count=sum(
                1 for t in found.items if t.status not in FINISHED_TICKET_STATUSES
            ),
            meta=PanelMeta(
                source=models.Source.SUPPORT,
                source_record_id=strawberry.ID(found.user_id),
                fetched_at=found.fetched_at,
                cache=found.cache_state,
            ),
        )

    @strawberry.field(description="Newest first; `first` is 1..100; `status` filters.")
    def tickets(
        self, first: int | None = 20, status: list[TicketStatus] | None = None
    ) -> list[Ticket]:
        limit = _check_first(first, default=20)
        wanted = set(status) if status else None
        chosen = (t for t in self.all_tickets if wanted is None or t.status in wanted)
        result: list[Ticket] = []
        for ticket in chosen:
            if len(result) == limit:
                break
            result.append(Ticket.from_model(ticket, self.owner))
        return result


@strawberry.type(description="One customer, linked across every system that knows them.")
class Customer:
    record: strawberry.Private[CustomerRecord]
    id: strawberry.ID = customer_data()
    display_name: str | None = personal(VerificationLevel.LOW, mask_name)
    links: list[IdentityLink] = customer_data()

    @property
    def owner(self) -> CustomerId:
        """Whose data this is (for masking and the audit trail)."""
        return self.record.id

    @classmethod
    def from_record(cls, record: CustomerRecord) -> Customer:
        return cls(
            record=record,
            id=strawberry.ID(record.id),
            display_name=record.display_name,
            links=[
                IdentityLink(
                    source=link.source,
                    external_id=strawberry.ID(link.external_id),
                    matched_by=link.matched_by,
                    confidence=link.confidence,
                    linked_via=link.linked_via,
                    linked_at=link.linked_at,
                )
                for link in record.links
            ],
        )

    @customer_data(description="From the CRM; null when the CRM has no record of them.")
    async def profile(self, info: Info) -> Profile | None:
        link = self.record.link_for(models.Source.CRM)
        if link is None:
            return None
        contact = await info.context.loaders.crm_contacts.load(CrmContactId(link.external_id))
        return Profile.from_model(contact, self.record.id)

    @customer_data(description="From billing; null when billing has no record of them.")
    def billing(self) -> BillingAccount | None:
        link = self.record.link_for(models.Source.BILLING)
        if link is None:
            return None
        return BillingAccount(owner=self.record.id, billing_id=BillingCustomerId(link.external_id))

    @customer_data(description="From support; null when support has no record of them.")
    async def support(self, info: Info) -> SupportSummary | None:
        link = self.record.link_for(models.Source.SUPPORT)
        if link is None:
            return None
        found = await info.context.loaders.tickets.load(SupportUserId(link.external_id))
        return SupportSummary.from_model(found, self.record.id)

    @customer_data(
        description="From the gateway's read model, not live: what analysts filter by, and "
        "when each fact was taken; null until the first facts refresh after linking."
    )
    async def facts(
        self, info: Info
    ) -> Annotated[CustomerFactsView, strawberry.lazy("resolvers.types.facts")] | None:
        # Imported here: the view uses the enums this module registers, so it must load after.
        from resolvers.types.facts import CustomerFactsView

        found = await info.context.loaders.customer_facts.load(self.record.id)
        return CustomerFactsView.from_facts(found) if found is not None else None

    @customer_data(description="Every email and phone the linked records hold, across systems.")
    async def contact(
        self, info: Info
    ) -> Annotated[ContactPoints, strawberry.lazy("resolvers.types.identity")]:
        from resolvers.types.identity import resolve_contact

        return await resolve_contact(self.record, info)

    @customer_data(description="Facts the linked records disagree on, and the value believed.")
    async def conflicts(
        self, info: Info
    ) -> list[Annotated[FieldConflict, strawberry.lazy("resolvers.types.identity")]]:
        from resolvers.types.identity import resolve_conflicts

        return await resolve_conflicts(self.record, info)

    @customer_data(
        description="Other customers who may be the same person (sharing an email or phone, "
        "or named together by a linking rule), unless a supervisor decided otherwise; the "
        "oldest `first` (1..100) of them."
    )
    async def possible_duplicates(
        self, info: Info, first: int | None = 10
    ) -> list[Annotated[DuplicateCandidate, strawberry.lazy("resolvers.types.identity")]]:
        from resolvers.types.identity import resolve_possible_duplicates

        limit = _check_first(first, default=10)
        return await resolve_possible_duplicates(self.record, info, limit)


def _check_first(first: int | None, *, default: int) -> int:
    """``first`` must be 1..100 (null means the default): a clear error, not a silent clamp."""
    if first is None:
        return default
    if not 1 <= first <= MAX_LIST:
        raise BadUserInput(f"first must be between 1 and {MAX_LIST}, got {first}")
    return first
