"""The writes' GraphQL types: ``WriteResult`` and its status, the mutations' inputs."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from kernel.writes import WriteOutcome, WriteStatus
from resolvers.types.common import Source

# Registered in place, as resolvers/types/common.py does with the kernel's enums.
strawberry.enum(
    WriteStatus,
    description="APPLIED: in the system of record; PENDING: kept in the outbox, delivered "
    "when the system takes it; FAILED: given up on (see reason).",
)


@strawberry.enum(description="A ticket's priority, as the support system has them.")
class TicketPriority(Enum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@strawberry.type(description="The record a write is about, in its system of record.")
class WrittenRecord:
    source: Source = strawberry.field(description="The system of record written to.")
    target_id: strawberry.ID = strawberry.field(
        description="The record written to or under (the CRM contact of a note, the ticket "
        "of a comment, the subscription cancelled)."
    )
    id: strawberry.ID | None = strawberry.field(
        description="The record the write made or changed (a new note's or ticket's id), "
        "once APPLIED."
    )


@strawberry.type(description="A write to a system of record, and how far it has got.")
class WriteResult:
    id: strawberry.ID = strawberry.field(description="Follow it with Query.writeStatus.")
    status: WriteStatus
    reason: str | None = strawberry.field(
        description="Why it FAILED, or the last error of a PENDING one (a code, never a value)."
    )
    record: WrittenRecord
    mutation: str = strawberry.field(description="The mutation that made it.")
    attempts: int = strawberry.field(description="Tries at the system of record so far.")
    created_at: datetime | None
    applied_at: datetime | None

    @classmethod
    def from_outcome(cls, outcome: WriteOutcome) -> WriteResult:
        return cls(
            id=strawberry.ID(outcome.id),
            status=outcome.status,
            reason=outcome.reason,
            record=WrittenRecord(
                source=outcome.source,
                target_id=strawberry.ID(outcome.target_record_id),
                id=strawberry.ID(outcome.record_id) if outcome.record_id else None,
            ),
            mutation=outcome.kind.value,
            attempts=outcome.attempts,
            created_at=outcome.created_at,
            applied_at=outcome.applied_at,
        )


@strawberry.input(
    description="Contact details to set in the CRM (their system of record); give only the "
    "fields that change. Billing's and support's copies follow by their own sync."
)
class ContactDetailsInput:
    email: str | None = None
    phone: str | None = strawberry.field(
        default=None, description="Any format; stored E.164 (SCV_IDENTITY__DEFAULT_REGION)."
    )
    line1: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@strawberry.input(description="A new support ticket; the body is its first comment.")
class TicketInput:
    subject: str
    body: str
    priority: TicketPriority | None = None
