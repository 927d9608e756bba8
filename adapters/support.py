"""Support ticketing, Zendesk-shaped: the system of record for tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from adapters.models import SupportUser, SupportUserId, TicketList


class SupportAdapter(Protocol):
    """Reads end users and their tickets from the support system."""

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
