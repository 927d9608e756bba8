"""A write applied to a system of record is told at once: the cache forgets the record and
the customer's live subscribers hear which system changed, before the vendor's webhook."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from app.live.service import LiveChanges
from app.wiring.services import written
from kernel.models import Source


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, Source, str]] = []

    async def invalidate(self, source: Source, record_id: str) -> None:
        self.events.append(("invalidated", source, record_id))

    async def record_changed(
        self, source: Source, record_id: str, at: datetime, received_at: float
    ) -> None:
        assert at.tzinfo is not None
        assert received_at > 0
        self.events.append(("published", source, record_id))


async def test_a_written_record_is_forgotten_then_published() -> None:
    heard = Heard()
    tell = written(heard.invalidate, cast(LiveChanges, heard))

    await tell(Source.CRM, "1001")

    assert heard.events == [("invalidated", Source.CRM, "1001"), ("published", Source.CRM, "1001")]


async def test_without_live_changes_a_write_only_forgets_the_record() -> None:
    heard = Heard()

    await written(heard.invalidate, None)(Source.SUPPORT, "42")

    assert heard.events == [("invalidated", Source.SUPPORT, "42")]
