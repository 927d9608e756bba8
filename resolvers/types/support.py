"""The support panel: the customer's tickets, from the support system.

The support system is their system of record; ``Customer.support`` fetches the ticket list
once and builds the whole panel from it, so ``tickets`` filters and counts without I/O.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from kernel import models
from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from kernel.models import FINISHED_TICKET_STATUSES
from resolvers.extensions.masking import free_text
from resolvers.types.common import PanelMeta, TicketStatus, check_first


@strawberry.type
class Ticket:
    owner: strawberry.Private[CustomerId]
    id: strawberry.ID
    subject: str | None = free_text(
        VerificationLevel.LOW,
        description="The customer's own words: redacted (emails, phones, cards, addresses, "
        "long numbers) for an agent without a verified call, masked whole for analysts.",
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
                cache_state=found.cache_state,
            ),
        )

    @strawberry.field(description="Newest first; `first` is 1..100; `status` filters.")
    def tickets(
        self, first: int | None = 20, status: list[TicketStatus] | None = None
    ) -> list[Ticket]:
        limit = check_first(first, default=20)
        wanted = set(status) if status else None
        chosen = (t for t in self.all_tickets if wanted is None or t.status in wanted)
        result: list[Ticket] = []
        for ticket in chosen:
            if len(result) == limit:
                break
            result.append(Ticket.from_model(ticket, self.owner))
        return result
