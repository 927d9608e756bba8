"""The duplicate candidates per day in a real PostgreSQL: each day keeps its last reading."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from app.store.customers import Store
from app.store.duplicate_days import DuplicateCandidateDays
from kernel.integration_kpis import DuplicateCandidates
from kernel.tenancy import TenantId

NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def test_each_day_keeps_its_last_reading(store: Store) -> None:
    days = DuplicateCandidateDays(store.pool, store.tenant)
    await days.record(7, NOON - timedelta(days=1))
    await days.record(9, NOON)
    await days.record(4, NOON + timedelta(hours=2))
    # A reading older than the day's kept one (another process, late) does not replace it.
    await days.record(11, NOON + timedelta(hours=1))

    assert await days.days_since(date(2026, 2, 28)) == (
        DuplicateCandidates(date(2026, 2, 28), 7),
        DuplicateCandidates(date(2026, 3, 1), 4),
    )
    assert await days.days_since(date(2026, 3, 1)) == (DuplicateCandidates(date(2026, 3, 1), 4),)


async def test_each_tenant_keeps_its_own_reading_and_the_platform_adds_them(
    store: Store,
) -> None:
    acme = DuplicateCandidateDays(store.pool, TenantId("acme"))
    globex = acme.scoped(TenantId("globex"))
    await acme.record(3, NOON)
    await globex.record(5, NOON + timedelta(hours=1))

    day = date(2026, 3, 1)
    assert await acme.days_since(day) == (DuplicateCandidates(day, 3),)
    assert await globex.days_since(day) == (DuplicateCandidates(day, 5),)
    assert await acme.scoped(None).days_since(day) == (DuplicateCandidates(day, 8),)
