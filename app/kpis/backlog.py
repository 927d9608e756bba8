"""``TicketBacklogFollower``: the ticket backlog kept up to date by the ticket system's
webhooks, between the facts refreshes that replace it whole.

A webhook about a requester's tickets re-reads that requester's tickets (through the
response cache the receiver has just invalidated, which the facts update may already have
filled again) and hands them to the store: the open ones kept, the finished ones forgotten,
and the trend's row of the day they changed written anew. The day and the ages in it are
by the ticket system's clock (the latest change among the tickets read), so a backlog aged
by that system's clock lands in that system's days.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from kernel.errors import UpstreamError
from kernel.models import FINISHED_TICKET_STATUSES, Source, SupportUserId, TicketList
from kernel.webhooks import VendorEvent

logger = logging.getLogger(__name__)


class RequestedTickets(Protocol):
    """Where a requester's tickets are read (the ticket source's port)."""

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList: ...


class BacklogWriter(Protocol):
    """The backlog's tables (``app.store.backlog.TicketBacklogStore``)."""

    async def follow(
        self,
        source: str,
        open_tickets: Sequence[tuple[str, str, datetime]],
        finished: Sequence[str],
        taken_at: datetime,
    ) -> None: ...


class TicketBacklogFollower:
    """Follows the webhooks of the source whose tickets make the backlog."""

    def __init__(self, tickets: RequestedTickets, store: BacklogWriter, source: Source) -> None:
        self._tickets = tickets
        self._store = store
        self._source = source

    async def follow(self, events: Sequence[VendorEvent]) -> None:
        """Bring the backlog up to date with the requesters ``events`` are about.

        The source failing is logged and skipped (the next refresh repairs the backlog);
        the store failing propagates, so that the vendor retries the delivery.
        """
        requesters = dict.fromkeys(
            event.record_id
            for event in events
            if event.source is self._source and event.record_id is not None
        )
        for requester in requesters:
            try:
                found = await self._tickets.list_requested_tickets(SupportUserId(requester))
            except UpstreamError as exc:
                logger.warning(
                    "could not re-read tickets for the backlog; the next refresh will",
                    extra={"source": self._source.value, "error": type(exc).__name__},
                )
                continue
            if not found.items:
                continue
            await self._store.follow(
                self._source.value,
                [
                    (t.id, t.status.value, t.created_at)
                    for t in found.items
                    if t.status not in FINISHED_TICKET_STATUSES
                ],
                [t.id for t in found.items if t.status in FINISHED_TICKET_STATUSES],
                max(t.updated_at for t in found.items),
            )
