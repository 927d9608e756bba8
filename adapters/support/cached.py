"""Support's reads through the response cache, and how long a ticket list stays fresh.

The panels' reads are cached per record (``SCV_CACHE__SUPPORT__...``); searches and the
bulk listings the sync and the read model page through pass straight through: the sync must
see the system as it is, and no record's invalidation could reach a search's answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from adapters.support.port import SupportAdapter, UserChanges
from kernel.cache import CacheKey, Lifetime, LifetimeSection, ReadThrough
from kernel.models import (
    Source,
    SupportUser,
    SupportUserId,
    Ticket,
    TicketId,
    TicketList,
)


class SupportLifetimes(LifetimeSection):
    """Support resources, keyed by support user id."""

    tickets: Lifetime = Field(
        default=Lifetime(fresh_seconds=15, stale_seconds=300),
        description="the tickets a user requested",
    )


class CachedSupportAdapter:
    """``SupportAdapter`` whose ticket lists are cached per user."""

    def __init__(self, inner: SupportAdapter, cache: ReadThrough) -> None:
        self._inner = inner
        self._cache = cache

    async def get_users(self, ids: Sequence[SupportUserId]) -> dict[SupportUserId, SupportUser]:
        """Not cached: no panel reads users (the sync and live linking do)."""
        return await self._inner.get_users(ids)

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        """Every ticket the user requested (cached as ``tickets``)."""
        return await self._cache.get(
            CacheKey(Source.SUPPORT, user_id, "tickets"),
            TicketList,
            lambda: self._inner.list_requested_tickets(user_id),
        )

    async def search_users(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[SupportUser]:
        """Not cached: passed to the system."""
        return await self._inner.search_users(email=email, phone=phone)

    def iter_users(self) -> AsyncIterator[list[SupportUser]]:
        """Not cached: the sync pages through the system itself."""
        return self._inner.iter_users()

    def iter_user_changes(self, start: datetime | str) -> AsyncIterator[UserChanges]:
        """Not cached: the incremental sync pages through the system itself."""
        return self._inner.iter_user_changes(start)

    def iter_tickets(self) -> AsyncIterator[list[tuple[SupportUserId, Ticket]]]:
        """Not cached: the facts refresh pages through the system itself."""
        return self._inner.iter_tickets()

    async def create_ticket(
        self,
        requester_id: SupportUserId,
        subject: str,
        body: str,
        priority: str | None,
        idempotency_key: str,
    ) -> TicketId:
        """Not cached: written to the system (the write service invalidates the user)."""
        return await self._inner.create_ticket(
            requester_id, subject, body, priority, idempotency_key
        )

    async def comment_on_ticket(self, ticket_id: TicketId, body: str, public: bool) -> None:
        """Not cached: written to the system."""
        await self._inner.comment_on_ticket(ticket_id, body, public)


if TYPE_CHECKING:
    # mypy proves here that the cached adapter implements its port in full.
    def _conforms(inner: SupportAdapter, cache: ReadThrough) -> SupportAdapter:
        return CachedSupportAdapter(inner, cache)
