"""The customer in the graph: one customer, linked across every system that knows them.

Scalar fields are plain attributes, filled when the object is built; only fields that do
I/O are async. The billing panel is lazy (``BillingAccount``, in ``resolvers.types.billing``,
holds the billing id and each field loads its own resource) so that the customer record,
subscriptions and invoices are fetched concurrently rather than one after the other;
profile and support each need one resource, so their panel resolver fetches it and builds
the whole panel. Each panel's types live in their own module (``resolvers.types.profile``,
``billing``, ``support``); what they share, the enums included, in ``resolvers.types.common``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from kernel import models
from kernel.access import VerificationLevel
from kernel.identity import CustomerId, CustomerRecord
from kernel.identity import IdentityLink as KernelLink
from kernel.models import BillingCustomerId, CrmContactId, SupportUserId
from resolvers.extensions.masking import customer_data, mask_name, personal
from resolvers.selection import selected_names
from resolvers.types.billing import BillingAccount, reads_together
from resolvers.types.common import Info, Source, check_first
from resolvers.types.orders import OrderHistory, resolve_orders
from resolvers.types.panels import serve_panel
from resolvers.types.profile import Profile
from resolvers.types.support import SupportSummary

if TYPE_CHECKING:
    # The identity view's types refer back to Customer: lazy both ways (see Customer).
    from resolvers.types.facts import CustomerFactsView
    from resolvers.types.identity import ContactPoints, DuplicateCandidate, FieldConflict


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


#: The panel (field of ``Customer``) each system fills, for live changes to name what to
#: re-query; a new source's panel is added here with its field.
PANEL_OF_SOURCE: dict[models.Source, str] = {
    models.Source.CRM: "profile",
    models.Source.BILLING: "billing",
    models.Source.SUPPORT: "support",
    models.Source.ORDERS: "orders",
}
#: Panels read across every linked system: any system's change may change them.
CROSS_SOURCE_PANELS = ("contact", "conflicts", "facts")


def panels_changed(sources: Iterable[models.Source], *, links_changed: bool) -> list[str]:
    """The panels of a customer to re-query when ``sources`` (or its links) changed."""
    if links_changed:
        return ["links", *PANEL_OF_SOURCE.values(), *CROSS_SOURCE_PANELS]
    own = [PANEL_OF_SOURCE[source] for source in sources if source in PANEL_OF_SOURCE]
    return [*dict.fromkeys(own), *CROSS_SOURCE_PANELS]


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

    # Each source's panel is served as its rollout says (``serve_panel``): null when the
    # source is off, in shadow, or in pilot for someone outside its cohort.
    @customer_data(description="From the CRM; null when the CRM has no record of them.")
    async def profile(self, info: Info) -> Profile | None:
        async def build(link: KernelLink) -> Profile:
            contact = await info.context.loaders.crm_contacts.load(CrmContactId(link.external_id))
            return Profile.from_model(contact, self.record.id)

        return await serve_panel(info, self.record, models.Source.CRM, build)

    @customer_data(description="From billing; null when billing has no record of them.")
    async def billing(self, info: Info) -> BillingAccount | None:
        async def build(link: KernelLink) -> BillingAccount:
            return BillingAccount(
                owner=self.record.id,
                billing_id=BillingCustomerId(link.external_id),
                together=reads_together(selected_names(info)),
            )

        return await serve_panel(info, self.record, models.Source.BILLING, build)

    @customer_data(description="From support; null when support has no record of them.")
    async def support(self, info: Info) -> SupportSummary | None:
        async def build(link: KernelLink) -> SupportSummary:
            found = await info.context.loaders.tickets.load(SupportUserId(link.external_id))
            return SupportSummary.from_model(found, self.record.id)

        return await serve_panel(info, self.record, models.Source.SUPPORT, build)

    @customer_data(description="From the orders database; null when it has no record of them.")
    async def orders(self, info: Info) -> OrderHistory | None:
        async def build(link: KernelLink) -> OrderHistory | None:
            return await resolve_orders(self.record, info)

        return await serve_panel(info, self.record, models.Source.ORDERS, build)

    @customer_data(
        description="From the gateway's read model, not live: what analysts filter by, and "
        "when each fact was taken; null until the first facts refresh after linking."
    )
    async def facts(
        self, info: Info
    ) -> Annotated[CustomerFactsView, strawberry.lazy("resolvers.types.facts")] | None:
        # Imported here: the view uses the enums ``resolvers.types.common`` registers, so it must
        # load after.
        from resolvers.types.facts import CustomerFactsView

        found = await info.context.loaders.customer_facts.load(self.record.id)
        return CustomerFactsView.from_facts(found) if found is not None else None

    # The next three read the gateway's store: nullable, so that the store failing (null with
    # STORE_UNAVAILABLE) costs only them, not the whole customer and every panel beside them.
    @customer_data(description="Every email and phone the linked records hold, across systems.")
    async def contact(
        self, info: Info
    ) -> Annotated[ContactPoints, strawberry.lazy("resolvers.types.identity")] | None:
        from resolvers.types.identity import resolve_contact

        return await resolve_contact(self.record, info)

    @customer_data(description="Facts the linked records disagree on, and the value believed.")
    async def conflicts(
        self, info: Info
    ) -> list[Annotated[FieldConflict, strawberry.lazy("resolvers.types.identity")]] | None:
        from resolvers.types.identity import resolve_conflicts

        return await resolve_conflicts(self.record, info)

    @customer_data(
        description="Other customers who may be the same person (sharing an email or phone, "
        "or named together by a linking rule), unless a supervisor decided otherwise; the "
        "oldest `first` (1..100) of them."
    )
    async def possible_duplicates(
        self, info: Info, first: int | None = 10
    ) -> list[Annotated[DuplicateCandidate, strawberry.lazy("resolvers.types.identity")]] | None:
        from resolvers.types.identity import resolve_possible_duplicates

        limit = check_first(first, default=10)
        return await resolve_possible_duplicates(self.record, info, limit)
