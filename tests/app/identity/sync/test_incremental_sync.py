"""The incremental sync: cursors per source, what a re-run reads, and failure safety."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from adapters.http.client import build_client
from adapters.orders.client import SqlOrdersAdapter
from adapters.orders.settings import OrdersSettings
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.settings import SupportSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.report import SyncReport
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.sync.cursors import SourceCursor, load_cursors
from app.store.sync.values import SyncRun
from app.wiring.metrics import GatewayMetrics
from kernel.errors import UpstreamUnavailable
from kernel.models import Source
from sandbox.data.generate import generate_dataset
from sandbox.server import create_sandbox_app
from tests.builders import billing_customer, support_user
from tests.fake_systems import FakeSystems, named_customers

#: The first run starts here; the named customers were last changed in 2024.
RUN_1 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RUN_2 = RUN_1 + timedelta(hours=1)
RUN_3 = RUN_2 + timedelta(hours=1)
OVERLAP = timedelta(minutes=5)


@pytest.fixture
def systems() -> FakeSystems:
    return named_customers(page_size=2)


async def sync(
    store: Store, systems: FakeSystems, at: datetime, *, full: bool = False
) -> SyncReport:
    return await sync_identities(
        store,
        systems.by_source,
        IdentitySettings(),
        full=full,
        overlap=OVERLAP,
        now=lambda: at,
    )


async def cursors(store: Store) -> dict[Source, SourceCursor]:
    async with store.pool.acquire() as conn:
        return await load_cursors(conn, store.tenant)


def change_crm_email(systems: FakeSystems, contact_id: str, email: str, at: datetime) -> None:
    contact = systems.crm.contacts[contact_id]
    systems.crm.contacts[contact_id] = contact.model_copy(update={"email": email, "updated_at": at})


def seen(report: SyncReport) -> dict[Source, int]:
    return {s: report.for_source(s).seen for s in (Source.CRM, Source.BILLING, Source.SUPPORT)}


async def test_a_first_run_reads_everything_and_records_mode_full(
    store: Store, systems: FakeSystems
) -> None:
    report = await sync(store, systems, RUN_1)

    assert report.mode == "full"
    assert seen(report) == {Source.CRM: 7, Source.BILLING: 5, Source.SUPPORT: 5}
    assert await _mode_of_latest_run(store) == "full"


async def test_each_cursor_is_the_run_start_less_the_overlap(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)

    assert await cursors(store) == {
        Source.CRM: RUN_1 - OVERLAP,
        Source.BILLING: RUN_1 - OVERLAP,
        Source.SUPPORT: RUN_1 - OVERLAP,
        Source.ORDERS: RUN_1 - OVERLAP,
    }


async def test_a_rerun_with_nothing_changed_reads_nothing(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)

    report = await sync(store, systems, RUN_2)

    assert report.mode == "incremental"
    assert await _mode_of_latest_run(store) == "incremental"
    assert seen(report) == {Source.CRM: 0, Source.BILLING: 0, Source.SUPPORT: 0}
    assert report.total_customers == 7


async def test_a_rerun_after_one_crm_change_sees_only_that_contact(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    change_crm_email(systems, "1001", "ada@new.example", RUN_1 + timedelta(minutes=10))

    report = await sync(store, systems, RUN_2)

    assert seen(report) == {Source.CRM: 1, Source.BILLING: 0, Source.SUPPORT: 0}
    assert await store.find_by_email("ada@new.example") == [
        await store.find_by_source_id(Source.CRM, "1001")
    ]


async def test_an_incremental_run_names_the_records_it_read(
    store: Store, systems: FakeSystems
) -> None:
    first = await sync(store, systems, RUN_1)
    change_crm_email(systems, "1001", "ada@new.example", RUN_1 + timedelta(minutes=10))

    report = await sync(store, systems, RUN_2)

    assert first.changed is None  # a full run: everything may have changed
    assert report.changed == {Source.CRM: frozenset({"1001"})}


async def test_an_incremental_run_that_read_more_than_its_limit_names_none(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    for contact in ("1001", "1002"):
        change_crm_email(systems, contact, f"{contact}@new.example", RUN_1 + timedelta(minutes=10))

    report = await sync_identities(
        store,
        systems.by_source,
        IdentitySettings(),
        overlap=OVERLAP,
        now=lambda: RUN_2,
        changed_limit=1,
    )

    assert report.mode == "incremental"
    assert report.changed is None


async def test_a_change_made_while_a_run_reads_is_read_by_the_next_run(
    store: Store, systems: FakeSystems
) -> None:
    # Stamped a minute after the first run started: a pass that had already read the
    # contact missed it, and the overlap makes the next run read it.
    await sync(store, systems, RUN_1)
    change_crm_email(systems, "1002", "grace@new.example", RUN_1 + timedelta(minutes=1))
    await sync(store, systems, RUN_2)

    assert await store.find_by_email("grace@new.example") != []


async def test_incremental_passes_ask_the_vendors_for_changes_only(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    systems.crm.call_log.clear()
    systems.billing.call_log.clear()

    await sync(store, systems, RUN_2)

    assert {call.method for call in systems.crm.call_log} == {"iter_contacts_modified_since"}
    assert {call.method for call in systems.billing.call_log} == {"iter_customers_created_since"}


async def test_a_new_billing_customer_is_read_by_its_creation_time_and_linked(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    new = billing_customer(
        "cus_new",
        "Ada Lovelace",
        email="ADA.Lovelace@example.com",
        created_at=RUN_1 + timedelta(minutes=30),
    )
    systems.billing.customers[new.id] = new

    report = await sync(store, systems, RUN_2)

    assert report.for_source(Source.BILLING).seen == 1
    assert report.for_source(Source.BILLING).linked_new == 1
    assert await store.find_by_source_id(Source.BILLING, "cus_new") == (
        await store.find_by_source_id(Source.CRM, "1001")
    )


async def test_support_keeps_the_vendors_cursor_and_resumes_from_it(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    await sync(store, systems, RUN_2)
    vendor_cursor = (await cursors(store))[Source.SUPPORT]
    user = support_user("30001", "Alan Turing", email="alan.t@example.com", updated_at=RUN_2)
    systems.support.users[user.id] = user

    report = await sync(store, systems, RUN_3)

    assert isinstance(vendor_cursor, str)
    assert systems.support.call_log[-1].method == "iter_user_changes"
    assert report.for_source(Source.SUPPORT).seen == 1
    assert (await cursors(store))[Source.SUPPORT] != vendor_cursor


async def test_a_failed_pass_keeps_the_old_cursors_and_nothing_is_lost(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    before = await cursors(store)
    change_crm_email(systems, "1001", "ada@new.example", RUN_1 + timedelta(minutes=10))
    systems.billing.errors["iter_customers_created_since"] = UpstreamUnavailable(
        Source.BILLING, "down"
    )

    with pytest.raises(UpstreamUnavailable):
        await sync(store, systems, RUN_2)
    assert await cursors(store) == before

    del systems.billing.errors["iter_customers_created_since"]
    report = await sync(store, systems, RUN_3)
    assert report.for_source(Source.CRM).seen == 1
    assert (await cursors(store))[Source.CRM] == RUN_3 - OVERLAP


async def test_full_reads_every_source_in_full_despite_the_cursors(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)

    report = await sync(store, systems, RUN_2, full=True)

    assert report.mode == "full"
    assert seen(report) == {Source.CRM: 7, Source.BILLING: 5, Source.SUPPORT: 5}


async def test_a_cursor_that_cannot_be_read_means_a_full_pass_of_that_source(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, RUN_1)
    await store.pool.execute("update sync_cursors set cursor = 'garbage' where source = 'CRM'")

    report = await sync(store, systems, RUN_2)

    assert seen(report) == {Source.CRM: 7, Source.BILLING: 0, Source.SUPPORT: 0}
    assert report.mode == "incremental"


async def test_each_pass_records_how_long_it_took(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems, RUN_1)

    run = await store.latest_sync_run()

    assert run is not None
    assert all(run.counts[s]["duration_ms"] >= 0 for s in ("CRM", "BILLING", "SUPPORT"))


async def test_consecutive_pages_are_stored_together_up_to_the_batch_size(
    store: Store, systems: FakeSystems
) -> None:
    stored: list[tuple[Source, int]] = []

    # Pages of 2 records, stored 4 at a time: CRM's 7 contacts in batches of 4 and 3.
    await sync_identities(
        store,
        systems.by_source,
        IdentitySettings(),
        progress=lambda source, seen: stored.append((source, seen)),
        batch_records=4,
    )

    assert stored == [
        (Source.CRM, 4),
        (Source.CRM, 7),
        (Source.BILLING, 4),
        (Source.BILLING, 5),
        (Source.SUPPORT, 4),
        (Source.SUPPORT, 5),
    ]


async def _mode_of_latest_run(store: Store) -> str:
    mode: str = await store.pool.fetchval("select mode from sync_runs order by id desc limit 1")
    return mode


# --- against the sandbox, over HTTP --------------------------------------------------------


@dataclass(frozen=True)
class HttpSources:
    """The real HTTP adapters, talking to an in-process sandbox, and the sandbox itself."""

    sandbox: Starlette
    billing: HttpBillingAdapter
    crm: HttpCrmAdapter
    support: HttpSupportAdapter

    @property
    def by_source(self) -> dict[Source, object]:
        """The adapters by source, as ``sync_identities`` takes them."""
        return {
            Source.BILLING: self.billing,
            Source.CRM: self.crm,
            Source.SUPPORT: self.support,
            # No orders database here: it reads nothing (tests/adapters/orders read one).
            Source.ORDERS: SqlOrdersAdapter(OrdersSettings(), None),
        }

    async def requests(self) -> dict[str, int]:
        """Requests each system answered since the last call (counts reset as read)."""
        counts = {}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.sandbox), base_url="http://sandbox.test"
        ) as client:
            for system in ("billing", "crm", "support"):
                stats = (await client.get(f"/{system}/_sandbox/stats")).json()
                counts[system] = sum(stats["requests"].values())
                await client.delete(f"/{system}/_sandbox/stats")
        return counts


@pytest.fixture
async def sandbox() -> AsyncIterator[HttpSources]:
    # 40 people, read 10 a page: a full pass takes several pages of each source.
    app = create_sandbox_app(dataset=generate_dataset(seed=11, customers=40))
    transport = httpx.ASGITransport(app=app)
    billing = BillingSettings(base_url="http://sandbox.test/billing", page_size=10)
    crm = CrmSettings(base_url="http://sandbox.test/crm", page_size=10)
    support = SupportSettings(base_url="http://sandbox.test/support", page_size=10)
    async with (
        build_client(billing, billing_auth_headers(billing), transport=transport) as b,
        build_client(crm, crm_auth_headers(crm), transport=transport) as c,
        build_client(support, support_auth_headers(support), transport=transport) as s,
    ):
        yield HttpSources(
            app,
            HttpBillingAdapter(billing, b),
            HttpCrmAdapter(crm, c),
            HttpSupportAdapter(support, s),
        )


async def sync_sandbox(store: Store, sources: HttpSources) -> SyncReport:
    return await sync_identities(store, sources.by_source, IdentitySettings())


async def test_against_the_sandbox_one_crm_change_is_all_a_rerun_reads(
    store: Store, sandbox: HttpSources
) -> None:
    first = await sync_sandbox(store, sandbox)
    full_requests = await sandbox.requests()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.sandbox), base_url="http://sandbox.test/crm"
    ) as crm:
        changed = await crm.patch(
            "/crm/v3/objects/contacts/1002",
            json={"properties": {"email": "grace@new.example"}},
            headers={"Authorization": "Bearer pat-sandbox-crm"},
        )
    await sandbox.requests()  # the change itself is not the sync's

    second = await sync_sandbox(store, sandbox)

    assert changed.status_code == 200
    assert first.mode == "full"
    assert second.mode == "incremental"
    assert seen(second) == {Source.CRM: 1, Source.BILLING: 0, Source.SUPPORT: 0}
    # One request per source: nothing else changed, so each answers with one page.
    assert await sandbox.requests() == {"billing": 1, "crm": 1, "support": 1}
    assert min(full_requests.values()) > 3
    assert await store.find_by_email("grace@new.example") == [
        await store.find_by_source_id(Source.CRM, "1002")
    ]


# --- in /metrics ---------------------------------------------------------------------------


def test_the_latest_runs_mode_and_pass_durations_are_in_the_metrics() -> None:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    metrics.sync_run.latest = SyncRun(
        id=4,
        started_at=RUN_1,
        finished_at=RUN_1 + timedelta(seconds=70),
        outcome="succeeded",
        counts={"CRM": {"seen": 1, "duration_ms": 1500}, "BILLING": {"seen": 0}},
        mode="incremental",
    )

    value = metrics.registry.get_sample_value
    assert value("scv_sync_last_run_incremental") == 1
    assert value("scv_sync_last_run_pass_seconds", {"source": "CRM"}) == 1.5
    assert value("scv_sync_last_run_records", {"source": "CRM", "count": "duration_ms"}) is None
    assert value("scv_sync_last_run_records", {"source": "CRM", "count": "seen"}) == 1
