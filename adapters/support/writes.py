"""What the gateway writes to support, the system of record for tickets: new tickets for the
customer's user, and comments (public or private) on the customer's tickets."""

from __future__ import annotations

from adapters.support.port import SupportAdapter
from kernel.models import SupportUserId, TicketId
from kernel.writes import SourceWrite, WriteApplied, WriteCommand, WriteKind


async def create_ticket(adapter: SupportAdapter, command: WriteCommand) -> WriteApplied:
    """A ticket requested by the customer's support user; the vendor key makes a retry
    answer the ticket first created."""
    values = command.values
    priority = values.get("priority")
    ticket_id = await adapter.create_ticket(
        SupportUserId(command.record_id),
        subject=str(values["subject"]),
        body=str(values["body"]),
        priority=priority if isinstance(priority, str) else None,
        idempotency_key=command.vendor_key,
    )
    return WriteApplied(record_id=ticket_id)


async def comment_on_ticket(adapter: SupportAdapter, command: WriteCommand) -> WriteApplied:
    """A comment on the ticket, public or an internal note."""
    await adapter.comment_on_ticket(
        TicketId(command.record_id),
        body=str(command.values["body"]),
        public=command.values.get("public") is True,
    )
    return WriteApplied(record_id=command.record_id)


async def requested_by(adapter: SupportAdapter, user_id: str, ticket_id: str) -> bool:
    """Whether the ticket is one the customer's support user requested."""
    tickets = await adapter.list_requested_tickets(SupportUserId(user_id))
    return any(ticket.id == ticket_id for ticket in tickets.items)


WRITES: tuple[SourceWrite, ...] = (
    SourceWrite(WriteKind.TICKET, create_ticket),
    SourceWrite(WriteKind.TICKET_COMMENT, comment_on_ticket, owns=requested_by),
)
