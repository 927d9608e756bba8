"""An in-memory audit sink and reader for resolver tests (tests/app tests the real ones)."""

from __future__ import annotations

from collections.abc import Sequence

from kernel.access import (
    AuditEntry,
    AuditTrailPage,
    AuditUnavailable,
    RecordedAuditEntry,
)
from kernel.identity import CustomerId


class MemoryAuditSink:
    """Keeps what it is given; ``failing`` makes every ``record`` raise instead."""

    def __init__(self, *, failing: bool = False) -> None:
        self.entries: list[AuditEntry] = []
        self.batches = 0
        self.failing = failing

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if self.failing:
            raise AuditUnavailable("the audit store is down")
        self.batches += 1
        self.entries.extend(entries)


class MemoryAuditReader:
    """Pages through entries it holds, newest (highest id) first."""

    def __init__(self, entries: Sequence[AuditEntry] = ()) -> None:
        self.recorded = [RecordedAuditEntry(id=n, entry=e) for n, e in enumerate(entries, 1)]

    async def read_audit_trail(
        self, customer_id: CustomerId, first: int, before_id: int | None
    ) -> AuditTrailPage:
        wanted = [
            r
            for r in reversed(self.recorded)
            if r.entry.customer_id == customer_id and (before_id is None or r.id < before_id)
        ]
        return AuditTrailPage(entries=tuple(wanted[:first]), has_more=len(wanted) > first)
