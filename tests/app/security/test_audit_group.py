"""Group commit of the audit trail: concurrent requests' entries in one INSERT, each request
answered only once its own rows committed, every request of a failed group failing closed.

The grouping runs over the real trail on PostgreSQL; where a failure is needed, the trail's
``append`` (the boundary under test) is wrapped to fail or to hold a write open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from app.security.audit import PostgresAuditSink
from app.security.audit_group import GroupedAppend
from app.security.audit_metrics import AuditMetrics
from app.security.settings import AuditSettings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from kernel.access import AuditEntry, AuditUnavailable
from kernel.identity import CustomerId


def entry(n: int, **changes: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "kind": "READ",
        "subject": f"agent-{n}",
        "role": "agent",
        "outcome": "masked",
        "customer_id": CustomerId("ada"),
        "request_id": f"group-req-{n}",
        "fields": ("Profile.email",),
        "masked": True,
    }
    values.update(changes)
    return AuditEntry(**values)


class HeldTrail:
    """The real trail, whose first write waits for ``release`` and whose writes fail while
    ``failing``: so that requests pile up behind a write under way."""

    def __init__(self, trail: AuditTrailStore) -> None:
        self.trail = trail
        self.release = asyncio.Event()
        self.first_started = asyncio.Event()
        self.failing = False
        self.writes: list[int] = []

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        self.writes.append(len(entries))
        if len(self.writes) == 1:
            self.first_started.set()
            await self.release.wait()
        if self.failing:
            raise ConnectionError("the database went away")
        await self.trail.append(entries)


async def subjects_written(store: Store) -> list[str]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "select subject from audit_trail where request_id like 'group-req-%' order by id"
        )
    return [row["subject"] for row in rows]


def sink(trail: Any, grouped: bool = True) -> PostgresAuditSink:
    sink = PostgresAuditSink(
        trail, AuditSettings(group_writes=grouped), AuditMetrics.create(CollectorRegistry())
    )
    return sink


async def test_requests_arriving_during_a_write_share_the_next_insert(store: Store) -> None:
    held = HeldTrail(AuditTrailStore(store))
    audit = sink(held)
    first = asyncio.create_task(audit.record([entry(1)]))
    await held.first_started.wait()
    others = [asyncio.create_task(audit.record([entry(n), entry(n)])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    assert not any(task.done() for task in others)
    held.release.set()
    await asyncio.gather(first, *others)
    assert held.writes == [1, 6]  # the first alone, the three others in one statement
    assert sorted(await subjects_written(store)) == [
        "agent-1",
        *[f"agent-{n}" for n in (2, 2, 3, 3, 4, 4)],
    ]


async def test_no_request_returns_before_its_own_rows_committed(store: Store) -> None:
    held = HeldTrail(AuditTrailStore(store))
    audit = sink(held)
    first = asyncio.create_task(audit.record([entry(1)]))
    await held.first_started.wait()
    second = asyncio.create_task(audit.record([entry(2)]))
    await asyncio.sleep(0.05)
    assert not first.done()
    assert not second.done()
    assert await subjects_written(store) == []
    held.release.set()
    await second
    assert "agent-2" in await subjects_written(store)


async def test_a_failed_grouped_write_fails_every_request_in_the_group_closed(
    store: Store,
) -> None:
    held = HeldTrail(AuditTrailStore(store))
    audit = sink(held)
    first = asyncio.create_task(audit.record([entry(1)]))
    await held.first_started.wait()
    group = [asyncio.create_task(audit.record([entry(n)])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    held.failing = True
    held.release.set()
    results = await asyncio.gather(first, *group, return_exceptions=True)
    assert [type(result) for result in results] == [AuditUnavailable] * 4
    assert held.writes == [1, 3]
    assert await subjects_written(store) == []
    # The next request is written on its own again, the failure forgotten.
    held.failing = False
    await audit.record([entry(5)])
    assert await subjects_written(store) == ["agent-5"]


async def test_an_entry_that_cannot_be_written_fails_its_own_request_only(store: Store) -> None:
    held = HeldTrail(AuditTrailStore(store))
    audit = sink(held)
    first = asyncio.create_task(audit.record([entry(1)]))
    await held.first_started.wait()
    bad = asyncio.create_task(audit.record([entry(2, fields=("a,b",))]))
    good = asyncio.create_task(audit.record([entry(3)]))
    await asyncio.sleep(0)
    held.release.set()
    results = await asyncio.gather(first, bad, good, return_exceptions=True)
    assert [type(r) for r in results] == [type(None), AuditUnavailable, type(None)]
    assert await subjects_written(store) == ["agent-1", "agent-3"]


async def test_a_caller_past_its_deadline_fails_closed_and_the_group_still_writes(
    store: Store,
) -> None:
    held = HeldTrail(AuditTrailStore(store))
    audit = PostgresAuditSink(
        held,  # type: ignore[arg-type]
        AuditSettings(write_timeout_seconds=0.05),
        AuditMetrics.create(CollectorRegistry()),
    )
    with pytest.raises(AuditUnavailable):
        await audit.record([entry(1)])
    # The write was given up by its caller and by its own deadline: nothing is left hanging.
    held.release.set()
    await audit.record([entry(2)])
    assert await subjects_written(store) == ["agent-2"]


async def test_counts_statements_and_entries() -> None:
    written: list[int] = []

    async def append(entries: Sequence[AuditEntry]) -> None:
        await asyncio.sleep(0.01)
        written.append(len(entries))

    grouped = GroupedAppend(append, timeout=1.0)
    await asyncio.gather(*(grouped.append([entry(n)]) for n in range(5)))
    # The first alone, at once; the four that came while it wrote, together.
    assert written == [1, 4]
    assert (grouped.statements, grouped.entries) == (2, 5)


async def test_a_request_alone_writes_at_once_without_a_task(store: Store) -> None:
    held = HeldTrail(AuditTrailStore(store))
    held.release.set()
    audit = sink(held)
    tasks_before = len(asyncio.all_tasks())
    await audit.record([entry(1)])
    assert len(asyncio.all_tasks()) == tasks_before
    assert held.writes == [1]
