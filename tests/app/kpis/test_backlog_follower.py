"""The ticket backlog following webhooks, over a real PostgreSQL: a requester's tickets
re-read (the support port, faked: the boundary under test is the store's) keep the open ones,
forget the finished ones and rewrite that day's trend row, by the tickets' own clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from app.kpis.backlog import TicketBacklogFollower
from app.store.backlog import TicketBacklogStore
from app.store.customers import Store
from kernel.errors import UpstreamUnavailable
from kernel.models import Source, SupportUserId, Ticket, TicketList, TicketStatus
from kernel.webhooks import VendorEvent
from tests.builders import ticket

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


class Requested:
    """Each requester's tickets as the support system answers them now."""

    def __init__(self) -> None:
        self.tickets: dict[str, list[Ticket]] = {}
        self.down = False
        self.reads: list[str] = []

    async def list_requested_tickets(self, user_id: SupportUserId) -> TicketList:
        self.reads.append(user_id)
        if self.down:
            raise UpstreamUnavailable(Source.SUPPORT, "down")
        return TicketList(
            user_id=user_id, items=tuple(self.tickets.get(user_id, ())), fetched_at=T0
        )


def event(requester: str, source: Source = Source.SUPPORT) -> VendorEvent:
    return VendorEvent(source, f"e-{requester}", "zen:event-type:ticket.created", T0, requester)


async def test_open_tickets_are_kept_finished_ones_forgotten_and_the_day_rewritten(
    store: Store,
) -> None:
    requested = Requested()
    backlog = TicketBacklogStore(store.pool, store.tenant)
    follower = TicketBacklogFollower(requested, backlog, Source.SUPPORT)
    requested.tickets["u1"] = [ticket("1", created_at=T0)]
    await follower.follow([event("u1")])

    later = T0 + timedelta(days=4)
    requested.tickets["u1"] = [
        ticket("1", status=TicketStatus.SOLVED, created_at=T0, updated_at=later),
        ticket("2", status=TicketStatus.NEW, created_at=later),
    ]
    requested.tickets["u2"] = [ticket("3", created_at=T0 - timedelta(days=2), updated_at=later)]
    # Two events of one requester read it once; another source's event is not followed.
    await follower.follow([event("u1"), event("u1"), event("u2"), event("u9", Source.CRM)])

    assert requested.reads == ["u1", "u1", "u2"]
    assert sorted(await backlog.backlog(later + timedelta(hours=1))) == [
        ("NEW", "UNDER_1D", 1),
        ("OPEN", "D3_7", 1),
    ]
    days = await backlog.daily(date(2026, 3, 1))
    assert sorted(days) == [
        (date(2026, 3, 1), "OPEN", "UNDER_1D", 1),
        (date(2026, 3, 5), "NEW", "UNDER_1D", 1),
        (date(2026, 3, 5), "OPEN", "D3_7", 1),
    ]


async def test_the_source_down_changes_nothing(store: Store) -> None:
    requested = Requested()
    backlog = TicketBacklogStore(store.pool, store.tenant)
    follower = TicketBacklogFollower(requested, backlog, Source.SUPPORT)
    requested.tickets["u1"] = [ticket("1", created_at=T0)]
    await follower.follow([event("u1")])
    requested.down = True
    requested.tickets["u1"] = [ticket("1", status=TicketStatus.SOLVED, created_at=T0)]

    await follower.follow([event("u1")])  # logged and skipped: the next refresh repairs

    assert await backlog.backlog(T0) == [("OPEN", "UNDER_1D", 1)]


async def test_the_store_failing_reaches_the_receiver(store: Store) -> None:
    requested = Requested()
    requested.tickets["u1"] = [ticket("1", created_at=T0)]
    follower = TicketBacklogFollower(
        requested, TicketBacklogStore(store.pool, store.tenant), Source.SUPPORT
    )
    await store.close()

    with pytest.raises(asyncpg.InterfaceError, match="closed"):
        await follower.follow([event("u1")])
