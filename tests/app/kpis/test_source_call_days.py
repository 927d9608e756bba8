"""Each source's calls per day in a real PostgreSQL: counted in memory, added in batches, so
that the per-source KPIs survive a restart and add up across instances."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pytest

from app.kpis.call_days import CallKey, SourceCallTally
from app.store.customers import Store
from app.store.source_calls import SourceCallDayStore
from kernel.integration_kpis import SourceCallDay
from kernel.models import Source
from kernel.tenancy import TenantId

DAY = date(2026, 3, 1)
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)
ACME, GLOBEX = TenantId("acme"), TenantId("globex")


def ACME_NOW() -> TenantId:
    return ACME


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_calls_are_counted_by_kind_and_added_to_their_day(store: Store) -> None:
    days = SourceCallDayStore(store.pool)
    tally = SourceCallTally(days, tenant_now=ACME_NOW, now=Clock(NOON))
    tally.observe_call(Source.CRM, 0.1, None)
    tally.observe_call(Source.CRM, 0.2, "UPSTREAM_UNAVAILABLE")
    tally.observe_call(Source.CRM, 0.3, "UPSTREAM_CONTRACT")
    tally.observe_call(Source.CRM, 0.4, "ABORTED")  # the gateway's own cancel: not counted
    tally.observe_comparison(Source.CRM, agreed=True)
    tally.observe_comparison(Source.CRM, agreed=False)

    await tally.flush()

    (crm,) = await days.days_since(DAY)
    assert crm == SourceCallDay(
        Source.CRM,
        DAY,
        calls=3,
        errors=2,
        unavailable=1,
        contract_errors=1,
        shadow_agreed=1,
        shadow_disagreed=1,
    )
    assert crm.availability == pytest.approx(2 / 3)
    assert crm.error_rate == pytest.approx(2 / 3)


async def test_two_instances_add_up_and_a_restart_keeps_the_counts(store: Store) -> None:
    clock = Clock(NOON)
    first = SourceCallTally(SourceCallDayStore(store.pool), tenant_now=ACME_NOW, now=clock)
    second = SourceCallTally(SourceCallDayStore(store.pool), tenant_now=ACME_NOW, now=clock)
    for _ in range(3):
        first.observe_call(Source.BILLING, 0.1, None)
    second.observe_call(Source.BILLING, 0.1, "UPSTREAM_TIMEOUT")
    await first.flush()
    await second.flush()
    # A process started afresh (the others gone) reads what they added, and adds its own.
    restarted = SourceCallTally(SourceCallDayStore(store.pool), tenant_now=ACME_NOW, now=clock)
    restarted.observe_call(Source.BILLING, 0.1, None)
    await restarted.flush()

    (billing,) = await SourceCallDayStore(store.pool).days_since(DAY)
    assert (billing.calls, billing.errors, billing.unavailable) == (5, 1, 1)


async def test_each_utc_day_is_a_row_of_the_trend(store: Store) -> None:
    clock = Clock(NOON - timedelta(days=1))
    tally = SourceCallTally(SourceCallDayStore(store.pool), tenant_now=ACME_NOW, now=clock)
    tally.observe_call(Source.SUPPORT, 0.1, None)
    clock.at = NOON
    tally.observe_call(Source.SUPPORT, 0.1, "UPSTREAM_UNAVAILABLE")
    tally.observe_call(Source.SUPPORT, 0.1, None)
    await tally.flush()

    trend = await SourceCallDayStore(store.pool).days_since(DAY - timedelta(days=1))
    assert [(d.day, d.calls, d.errors) for d in trend] == [
        (DAY - timedelta(days=1), 1, 0),
        (DAY, 2, 1),
    ]
    assert [d.day for d in await SourceCallDayStore(store.pool).days_since(DAY)] == [DAY]


class FailingOnce:
    """A store that refuses the first batch, then hands on to the real one."""

    def __init__(self, store: SourceCallDayStore) -> None:
        self.store = store
        self.failed = False

    async def add(self, batch: Mapping[CallKey, SourceCallDay]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("the store is away")
        await self.store.add(batch)


async def test_a_failed_flush_keeps_its_counts_for_the_next(store: Store) -> None:
    days = SourceCallDayStore(store.pool)
    tally = SourceCallTally(FailingOnce(days), tenant_now=ACME_NOW, now=Clock(NOON))
    tally.observe_call(Source.ORDERS, 0.1, None)
    with pytest.raises(ConnectionError):
        await tally.flush()
    tally.observe_call(Source.ORDERS, 0.1, None)

    await tally.flush()

    (orders,) = await days.days_since(DAY)
    assert orders.calls == 2
    await tally.flush()  # nothing left: nothing added twice
    assert (await days.days_since(DAY))[0].calls == 2


async def test_calls_are_counted_per_tenant_and_read_per_tenant_or_all(store: Store) -> None:
    days = SourceCallDayStore(store.pool)
    calling = [ACME]
    tally = SourceCallTally(days, tenant_now=lambda: calling[0], now=Clock(NOON))
    tally.observe_call(Source.CRM, 0.1, None)
    calling[0] = GLOBEX
    tally.observe_call(Source.CRM, 0.1, "UPSTREAM_UNAVAILABLE")
    tally.observe_call(Source.CRM, 0.1, None)

    await tally.flush()

    (acme,) = await days.scoped(ACME).days_since(DAY)
    (globex,) = await days.scoped(GLOBEX).days_since(DAY)
    (platform,) = await days.scoped(None).days_since(DAY)
    assert (acme.calls, acme.errors) == (1, 0)
    assert (globex.calls, globex.errors) == (2, 1)
    assert (platform.calls, platform.errors) == (3, 1)
