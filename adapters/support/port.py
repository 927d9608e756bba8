"""What the gateway reads from support (its port): the Protocol the panels, the sync and the
cache see, implemented over HTTP by ``adapters.support.client.HttpSupportAdapter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from kernel.models import (
    Canonical,
    Source,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketId,
    TicketList,
)
from kernel.ports import SourcePort


class SupportAdapter(Protocol):
    """Reads end users and their tickets; opens tickets and comments on them (its facts)."""

    async def get_users(self, ids: Sequence[SupportUserId]) -> dict[SupportUserId, SupportUser]:
        """The users with these ids (``show_many``, 100 ids a call); unknown ids are absent."""
        ...

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        """Every ticket the user requested, following the cursor to the end."""
        ...

    async def search_users(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[SupportUser]:
        """End users whose email (case-insensitive) or phone equals the one given."""
        ...

    def iter_users(self) -> AsyncIterator[list[SupportUser]]:
        """Every end user, one page at a time, for the identity sync."""
        ...

    def iter_user_changes(self, start: datetime | str) -> AsyncIterator[UserChanges]:
        """End users changed since ``start``: a time, or the cursor of a previous export.

        For the incremental sync: each page says where the export continues, and the last
        page's cursor is where the next export starts.
        """
        ...

    def iter_tickets(self) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
        """Every ticket with its requester, one page at a time, for the analysts' read model."""
        ...

    async def create_ticket(
        self,
        requester_id: SupportUserId,
        subject: str,
        body: str,
        priority: str | None,
        idempotency_key: str,
    ) -> TicketId:
        """Open a ticket for the user, ``body`` as its first comment; the new ticket's id."""
        ...

    async def comment_on_ticket(self, ticket_id: TicketId, body: str, public: bool) -> None:
        """Add a comment, public (the requester sees it) or private (an internal note)."""
        ...


class UserChanges(Canonical):
    """One page of the incremental user export, and the cursor that resumes after it."""

    users: tuple[SupportUser, ...]
    cursor: str


#: Its adapter among the gateway's sources: ``sources.port(PORT)`` is typed ``SupportAdapter``.
PORT: SourcePort[SupportAdapter] = SourcePort(Source.SUPPORT)
