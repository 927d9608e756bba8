"""The identity sync's reporting: progress, pages fetched, the run recorded and its table, ids."""

from __future__ import annotations

import pytest

from app.identity.sync.report import SourceCounts, SyncReport
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from kernel.errors import UpstreamUnavailable
from kernel.models import Source
from tests.app.identity.sync.sync_kit import DEFAULT_RULES, sync
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems

# --- reporting -----------------------------------------------------------------------------


async def test_progress_is_reported_after_every_page(store: Store, systems: FakeSystems) -> None:
    seen: list[tuple[Source, int]] = []

    await sync_identities(
        store,
        systems.by_source,
        DEFAULT_RULES,
        progress=lambda s, n: seen.append((s, n)),
    )

    assert seen == [
        (Source.CRM, 2),
        (Source.CRM, 4),
        (Source.CRM, 6),
        (Source.CRM, 7),
        (Source.BILLING, 2),
        (Source.BILLING, 4),
        (Source.BILLING, 5),
        (Source.SUPPORT, 2),
        (Source.SUPPORT, 4),
        (Source.SUPPORT, 5),
    ]


async def test_each_page_is_fetched_once(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems)

    assert systems.crm.calls == {"iter_contacts": 4}
    assert systems.billing.calls == {"iter_customers": 3}
    assert systems.support.calls == {"iter_users": 3}


async def test_the_run_is_recorded_with_its_counts(store: Store, systems: FakeSystems) -> None:
    report = await sync(store, systems)

    run = await store.latest_sync_run()

    assert run is not None
    assert (run.id, run.outcome) == (report.run_id, "succeeded")
    assert run.counts["BILLING"]["linked_new"] == 5


async def test_a_failing_source_fails_the_run_and_keeps_what_was_written(
    store: Store, systems: FakeSystems
) -> None:
    systems.billing.errors["iter_customers"] = UpstreamUnavailable(Source.BILLING, "down")

    with pytest.raises(UpstreamUnavailable):
        await sync(store, systems)

    run = await store.latest_sync_run()
    assert run is not None
    assert run.outcome == "failed"
    assert run.counts["CRM"]["customers_created"] == 7
    assert await store.find_by_source_id(Source.CRM, "1007") is not None


async def test_pages_written_before_an_upstream_failure_stay_linked(
    store: Store, systems: FakeSystems
) -> None:
    systems.billing.errors["iter_customers"] = UpstreamUnavailable(Source.BILLING, "down")
    systems.billing.errors_after["iter_customers"] = 1

    with pytest.raises(UpstreamUnavailable):
        await sync(store, systems)

    run = await store.latest_sync_run()
    assert run is not None
    assert run.counts["BILLING"]["seen"] == 2
    assert await store.find_by_source_id(Source.BILLING, "cus_grace") is not None
    assert await store.find_by_source_id(Source.BILLING, "cus_alan") is None


async def test_the_report_table_has_a_row_per_source_and_the_total(
    store: Store, systems: FakeSystems
) -> None:
    report = await sync(store, systems)

    lines = report.format_table().splitlines()

    assert lines[0].split() == [
        "source",
        "seen",
        "linked_new",
        "already_linked",
        "customers_created",
        "ambiguous",
        "skipped_invalid",
    ]
    assert lines[1].split() == ["CRM", "7", "0", "0", "7", "0", "0"]
    assert lines[2].split()[0] == "BILLING"
    assert lines[3].split()[0] == "SUPPORT"
    assert lines[4].split() == ["ORDERS", "0", "0", "0", "0", "0", "0"]
    assert lines[5].startswith("7 customers in total")


def test_the_report_has_no_counts_for_the_ivr() -> None:
    report = SyncReport(
        1,
        {
            Source.CRM: SourceCounts(),
            Source.BILLING: SourceCounts(),
            Source.SUPPORT: SourceCounts(),
        },
        0,
        0.0,
    )

    assert report.for_source(Source.IVR) == SourceCounts()


async def test_customer_ids_are_opaque_and_prefixed(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems)

    ada = await customer_of(store, Source.CRM, "1001")

    assert ada.id.startswith("cust_")
    assert len(ada.id) == len("cust_") + 16
