"""A write applied to a system of record is told at once: the cache forgets the record and
the customer's live subscribers hear which system changed, before the vendor's webhook."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from app.live.service import LiveChanges
from app.wiring.services import written
from kernel.models import Source
from kernel.tenancy import TenantId

ACME = TenantId("acme")
GLOBEX = TenantId("globex")


class Heard:
    def __init__(self, name: str = "") -> None:
        self.name = name
        self.events: list[tuple[str, Source, str]] = []

    async def invalidate(self, tenant: TenantId, source: Source, record_id: str) -> None:
        self.events.append((f"invalidated in {tenant}", source, record_id))

    async def record_changed(
        self, source: Source, record_id: str, at: datetime, received_at: float
    ) -> None:
        assert at.tzinfo is not None
        assert received_at > 0
        self.events.append((f"published{self.name}", source, record_id))


async def test_a_written_record_is_forgotten_then_published() -> None:
    heard = Heard()
    tell = written(heard.invalidate, lambda tenant: cast(LiveChanges, heard))

    await tell(ACME, Source.CRM, "1001")

    assert heard.events == [
        ("invalidated in acme", Source.CRM, "1001"),
        ("published", Source.CRM, "1001"),
    ]


async def test_a_write_is_told_to_its_own_tenants_cache_and_subscribers() -> None:
    heard = Heard()
    globex_live = Heard(" to globex")
    tell = written(
        heard.invalidate,
        lambda tenant: cast(LiveChanges, globex_live if tenant == GLOBEX else heard),
    )

    await tell(GLOBEX, Source.CRM, "5002")

    assert heard.events == [("invalidated in globex", Source.CRM, "5002")]
    assert globex_live.events == [("published to globex", Source.CRM, "5002")]


async def test_without_live_changes_a_write_only_forgets_the_record() -> None:
    heard = Heard()

    await written(heard.invalidate, lambda tenant: None)(ACME, Source.SUPPORT, "42")

    assert heard.events == [("invalidated in acme", Source.SUPPORT, "42")]
