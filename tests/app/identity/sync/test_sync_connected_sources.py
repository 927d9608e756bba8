"""The sync reads whatever sources the registry connected: a linked source that is off or not
configured is skipped, named in the report with why, and keeps its cursor."""

from __future__ import annotations

from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.settings import Settings
from app.store.customers import Store
from app.store.sync.cursors import load_cursors
from app.wiring.sources import NOT_CONFIGURED, OFF, connected
from kernel.models import Source
from kernel.rollout import RolloutMode
from resolvers.context import Sources
from tests.fake_systems import FakeSystems


def without(systems: FakeSystems, *gone: Source) -> dict[Source, object]:
    return {source: adapter for source, adapter in systems.by_source.items() if source not in gone}


async def test_a_source_with_no_adapter_is_skipped_and_the_others_are_read(
    store: Store, systems: FakeSystems
) -> None:
    report = await sync_identities(
        store,
        without(systems, Source.ORDERS, Source.SUPPORT),
        IdentitySettings(),
        why_not={Source.SUPPORT: OFF},
    )

    assert list(report.counts) == [Source.CRM, Source.BILLING]
    assert report.skipped == {Source.SUPPORT: OFF, Source.ORDERS: "not connected"}
    assert "SUPPORT not read: its rollout mode is OFF" in report.format_table()
    assert systems.support.calls == {}
    assert await store.find_by_source_id(Source.BILLING, "cus_ada") is not None
    assert await store.find_by_source_id(Source.SUPPORT, "9001") is None
    run = await store.latest_sync_run()
    assert run is not None
    assert set(run.counts) == {"CRM", "BILLING"}


async def test_a_skipped_source_keeps_its_cursor_and_so_does_one_naming_it(
    store: Store, systems: FakeSystems
) -> None:
    await sync_identities(store, systems.by_source, IdentitySettings())
    async with store.pool.acquire() as conn:
        before = await load_cursors(conn, store.tenant)

    await sync_identities(store, without(systems, Source.BILLING), IdentitySettings())
    async with store.pool.acquire() as conn:
        after = await load_cursors(conn, store.tenant)

    # Billing was not read; the CRM's records name billing's, so the CRM's cursor waits too.
    assert after[Source.BILLING] == before[Source.BILLING]
    assert after[Source.CRM] == before[Source.CRM]
    assert after[Source.SUPPORT] != before[Source.SUPPORT]


def test_connected_leaves_out_what_is_off_or_not_configured(systems: FakeSystems) -> None:
    settings = Settings.model_validate({"support": {"rollout": {"mode": "OFF"}}})
    sources = Sources.from_adapters(systems.by_source)

    reading, why_not = connected(settings, sources)

    assert why_not == {Source.SUPPORT: OFF, Source.ORDERS: NOT_CONFIGURED}
    assert set(reading.by_source) == {Source.BILLING, Source.CRM, Source.IVR}


def test_a_supervisor_s_mode_wins_over_the_configured_one(systems: FakeSystems) -> None:
    settings = Settings.model_validate(
        {"orders": {"url": "sqlite+aiosqlite:///orders.sqlite"}, "support": {}}
    )
    sources = Sources.from_adapters(systems.by_source)

    reading, why_not = connected(settings, sources, {Source.CRM: RolloutMode.OFF})

    assert why_not == {Source.CRM: OFF}
    assert Source.ORDERS in reading
