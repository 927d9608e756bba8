"""Export jobs over a real PostgreSQL: progress, masking, formats, and surviving restarts."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from app.exports.downloads import ExportDownloads, get_export_file
from app.exports.format import filter_from_json, filter_to_json
from app.exports.jobs import CANNOT_RESUME, READ_MODEL_FAILED, Exports, ExportWorker
from app.exports.metrics import ExportMetrics
from app.exports.settings import ExportSettings
from app.http.state import GatewayState
from app.security.auth import KeyRing, TokenVerifier
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from app.store.customers import Store
from app.store.exports import ExportStore
from kernel.access import AuditEntry, AuditUnavailable, Principal
from kernel.customer_facts import CustomerFilter
from kernel.exports import (
    ExportField,
    ExportFormat,
    ExportJobView,
    ExportLimitReached,
    ExportState,
    may_read,
)
from kernel.models import Source
from resolvers.extensions.masking import mask_name
from tests.app.memory_facts import MemoryFacts, customer_facts

ANALYST = Principal(subject="analyst-1", role="analyst")
FIELDS = (ExportField.CUSTOMER_ID, ExportField.DISPLAY_NAME, ExportField.BALANCE)
SETTINGS = ExportSettings(batch_size=1000)


def metrics() -> ExportMetrics:
    registry = CollectorRegistry()
    return ExportMetrics.create(registry, registry)


def worker(store: Store, facts: MemoryFacts, settings: ExportSettings = SETTINGS) -> ExportWorker:
    return ExportWorker(ExportStore(store), facts, settings, metrics(), default_region="GB")


def exports(store: Store, settings: ExportSettings = SETTINGS) -> Exports:
    return Exports(ExportStore(store), settings, metrics())


async def start(
    store: Store,
    fields: tuple[ExportField, ...] = FIELDS,
    export_format: ExportFormat = ExportFormat.NDJSON,
    owner: Principal = ANALYST,
) -> ExportJobView:
    return await exports(store).start_export(owner, CustomerFilter(), fields, export_format)


async def status(store: Store, job: ExportJobView) -> ExportJobView:
    view = await exports(store).get_export(job.id)
    assert view is not None
    return view


async def file_of(store: Store, job: ExportJobView) -> str:
    chunks = await ExportStore(store).chunks(job.id, -1, 10_000)
    assert [seq for seq, _ in chunks] == list(range(len(chunks)))
    return "".join(body for _, body in chunks)


def ids_in(ndjson: str) -> list[str]:
    return [json.loads(line)["customerId"] for line in ndjson.splitlines()]


async def age_heartbeat(store: Store, job: ExportJobView) -> None:
    """What a worker that died long ago leaves behind: a heartbeat older than any lease."""
    async with store.pool.acquire() as conn:
        await conn.execute(
            "update export_jobs set heartbeat_at = now() - interval '1 hour' where id = $1", job.id
        )


async def test_an_export_of_thousands_of_rows_shows_progress_per_batch_and_masks_names(
    store: Store,
) -> None:
    facts = MemoryFacts([customer_facts(n) for n in range(3000)], pause_after=2)
    job = await start(store)
    assert job.state is ExportState.QUEUED
    running = asyncio.create_task(worker(store, facts).run_once())
    await facts.paused.wait()

    midway = await status(store, job)
    assert (midway.state, midway.rows_done, midway.total_rows) == (ExportState.RUNNING, 2000, 3000)

    facts.resume.set()
    assert await running is True
    done = await status(store, job)
    assert (done.state, done.rows_done, done.total_rows) == (ExportState.SUCCEEDED, 3000, 3000)
    assert done.finished_at is not None
    lines = [json.loads(line) for line in (await file_of(store, job)).splitlines()]
    assert [line["customerId"] for line in lines] == [f"cus-{n:06d}" for n in range(3000)]
    assert lines[7] == {"customerId": "cus-000007", "displayName": "Person7 S.", "balance": "7.50"}
    assert all(
        line["displayName"] == mask_name(f"Person{n} Surname{n}") for n, line in enumerate(lines)
    )


async def test_a_csv_export_has_a_header_and_defuses_formulas(store: Store) -> None:
    facts = MemoryFacts([customer_facts(1, name="=HYPERLINK Evil"), customer_facts(2)])
    fields = (ExportField.CUSTOMER_ID, ExportField.DISPLAY_NAME, ExportField.LINKED_SOURCES)
    job = await start(store, fields, ExportFormat.CSV)
    await worker(store, facts).run_once()

    text = await file_of(store, job)
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        ["customerId", "displayName", "linkedSources"],
        ["cus-000001", "'=HYPERLINK E.", "BILLING;CRM"],
        ["cus-000002", "Person2 S.", "BILLING;CRM"],
    ]


async def test_an_export_that_selects_nobody_succeeds_with_only_its_header(store: Store) -> None:
    job = await start(store, export_format=ExportFormat.CSV)
    await worker(store, MemoryFacts([])).run_once()

    done = await status(store, job)
    assert (done.state, done.rows_done, done.total_rows) == (ExportState.SUCCEEDED, 0, 0)
    assert await file_of(store, job) == "customerId,displayName,balance\r\n"


async def test_a_job_handed_back_at_shutdown_resumes_with_every_row_exactly_once(
    store: Store,
) -> None:
    rows = [customer_facts(n) for n in range(2500)]
    first_facts = MemoryFacts(rows, pause_after=2)
    job = await start(store)
    stopping = asyncio.create_task(worker(store, first_facts).run_once())
    await first_facts.paused.wait()
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping

    handed_back = await status(store, job)
    assert (handed_back.state, handed_back.rows_done) == (ExportState.QUEUED, 2000)
    # A restart in good order does not use up one of the job's attempts.
    row = await ExportStore(store).get(job.id)
    assert row is not None
    assert row.attempts == 0

    second_facts = MemoryFacts(rows)
    assert await worker(store, second_facts).run_once() is True
    assert second_facts.streams_from == ["mem:cus-001999"]
    done = await status(store, job)
    assert (done.state, done.rows_done) == (ExportState.SUCCEEDED, 2500)
    assert ids_in(await file_of(store, job)) == [f"cus-{n:06d}" for n in range(2500)]


async def test_a_job_whose_worker_died_is_taken_over_from_its_last_cursor(store: Store) -> None:
    rows = [customer_facts(n) for n in range(30)]
    job = await start(store)
    export_store = ExportStore(store)
    dead = await export_store.claim("dead-worker", SETTINGS.stale_after_seconds)
    assert dead is not None
    assert await export_store.set_total(dead, 30, None)
    assert await export_store.append_batch(
        dead, 10, '{"customerId":"early"}\n' * 10, "mem:cus-000009"
    )
    await age_heartbeat(store, job)

    small_batches = ExportSettings(batch_size=10)
    facts = MemoryFacts(rows)
    assert await worker(store, facts, small_batches).run_once() is True

    assert facts.streams_from == ["mem:cus-000009"]
    assert (await status(store, job)).rows_done == 30
    # The dead worker wakes up: its claim is no longer the job's, so nothing it writes lands.
    assert not await export_store.append_batch(dead, 1, "late\n", "mem:cus-000029")
    assert ids_in(await file_of(store, job)) == ["early"] * 10 + [
        f"cus-{n:06d}" for n in range(10, 30)
    ]


async def test_a_running_job_with_a_live_heartbeat_is_left_to_its_worker(store: Store) -> None:
    await start(store)
    export_store = ExportStore(store)
    assert await export_store.claim("alive", SETTINGS.stale_after_seconds) is not None

    assert await worker(store, MemoryFacts([])).run_once() is False


async def test_a_job_interrupted_too_often_fails_visibly(store: Store) -> None:
    job = await start(store)
    export_store = ExportStore(store)
    for attempt in range(SETTINGS.max_attempts):
        claim = await export_store.claim(f"worker-{attempt}", SETTINGS.stale_after_seconds)
        assert claim is not None
        await age_heartbeat(store, job)

    assert await worker(store, MemoryFacts([customer_facts(1)])).run_once() is True

    failed = await status(store, job)
    assert failed.state is ExportState.FAILED
    assert (
        failed.error == f"the export was interrupted {SETTINGS.max_attempts} times and was given up"
    )
    assert failed.finished_at is not None
    assert await file_of(store, job) == ""


async def test_a_cursor_the_read_model_no_longer_understands_fails_the_job_visibly(
    store: Store,
) -> None:
    job = await start(store)
    export_store = ExportStore(store)
    claim = await export_store.claim("old-version", SETTINGS.stale_after_seconds)
    assert claim is not None
    assert await export_store.set_total(claim, 2, None)
    assert await export_store.append_batch(claim, 1, "{}\n", "a cursor of another format")
    await age_heartbeat(store, job)

    await worker(store, MemoryFacts([customer_facts(1), customer_facts(2)])).run_once()

    failed = await status(store, job)
    assert (failed.state, failed.error) == (ExportState.FAILED, CANNOT_RESUME)


async def test_two_workers_never_claim_the_same_job(store: Store) -> None:
    first, second = await start(store), await start(store)
    export_store = ExportStore(store)

    claims = await asyncio.gather(
        export_store.claim("a", 30.0), export_store.claim("b", 30.0), export_store.claim("c", 30.0)
    )

    claimed = sorted(claim.job.id for claim in claims if claim is not None)
    assert claimed == sorted([first.id, second.id])


async def test_an_owner_with_too_many_exports_under_way_is_refused(store: Store) -> None:
    one_at_a_time = ExportSettings(max_active_per_owner=1)
    await exports(store, one_at_a_time).start_export(
        ANALYST, CustomerFilter(), FIELDS, ExportFormat.NDJSON
    )

    with pytest.raises(ExportLimitReached):
        await exports(store, one_at_a_time).start_export(
            ANALYST, CustomerFilter(), FIELDS, ExportFormat.NDJSON
        )
    other = Principal(subject="analyst-2", role="analyst")
    assert await exports(store, one_at_a_time).start_export(
        other, CustomerFilter(), FIELDS, ExportFormat.NDJSON
    )


@pytest.mark.parametrize("export_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000000", ""])
async def test_an_unknown_or_malformed_id_is_no_export(store: Store, export_id: str) -> None:
    assert await exports(store).get_export(export_id) is None


def test_a_filter_is_kept_exactly_as_it_was_given() -> None:
    given = CustomerFilter(
        delinquent=True,
        min_open_tickets=3,
        subscription_status_in=frozenset({"ACTIVE", "PAST_DUE"}),
        last_contact_before=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        country_in=frozenset({"GB"}),
        linked_to=frozenset({Source.BILLING}),
        missing_from=frozenset({Source.SUPPORT, Source.CRM}),
    )

    assert filter_from_json(json.loads(json.dumps(filter_to_json(given)))) == given


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (ANALYST, True),
        (Principal(subject="analyst-2", role="analyst"), False),
        (Principal(subject="boss", role="supervisor"), True),
        (Principal(subject="analyst-1", role="agent"), False),
    ],
)
async def test_only_the_owner_or_a_supervisor_may_read_an_export(
    store: Store, principal: Principal, allowed: bool
) -> None:
    job = await start(store)

    assert may_read(principal, job) is allowed


async def test_an_idle_worker_deletes_finished_exports_past_retention_only(store: Store) -> None:
    finished = await start(store)
    await worker(store, MemoryFacts([customer_facts(1)])).run_once()
    running = await start(store)
    assert await ExportStore(store).claim("busy-elsewhere", SETTINGS.stale_after_seconds)
    later = datetime.now(UTC) + timedelta(hours=SETTINGS.retention_hours + 1)
    idle = ExportWorker(
        ExportStore(store),
        MemoryFacts([]),
        ExportSettings(poll_seconds=0.01),
        metrics(),
        default_region="GB",
        clock=lambda: later,
    )

    working = asyncio.create_task(idle.run_forever())
    try:
        for _ in range(500):
            if await exports(store).get_export(finished.id) is None:
                break
            await asyncio.sleep(0.01)
    finally:
        working.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await working

    assert await exports(store).get_export(finished.id) is None
    assert await ExportStore(store).chunks(finished.id, -1, 10) == []
    assert (await status(store, running)).state is ExportState.RUNNING


class _AuditDown:
    async def record(self, entries: Sequence[AuditEntry]) -> None:
        raise AuditUnavailable("the audit trail could not be written")


async def test_a_download_that_cannot_be_audited_serves_nothing(
    store: Store, tmp_path: Path
) -> None:
    job = await start(store)
    await worker(store, MemoryFacts([customer_facts(1)])).run_once()
    keys = ensure_demo_keys(tmp_path)
    state = GatewayState(
        store=store,
        sources=None,  # type: ignore[arg-type]
        verifier=TokenVerifier(AuthSettings(), KeyRing(static_key=keys.public_pem)),
        default_region="GB",
    )
    downloads = ExportDownloads(exports(store), ExportStore(store), _AuditDown(), metrics())
    router = Router(routes=[Route("/exports/{export_id}", get_export_file)])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = {"gateway": state, "export_downloads": downloads}
        await router(scope, receive, send)

    bearer = mint_token(keys, AuthSettings(), subject=ANALYST.subject, role=ANALYST.role)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        response = await client.get(
            f"/exports/{job.id}", headers={"Authorization": f"Bearer {bearer}"}
        )

    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert "cus-000001" not in response.text


class _BrokenReadModel(MemoryFacts):
    async def count_customers_matching(self, customer_filter: CustomerFilter) -> int:
        raise ConnectionError("the read model's database went away")


async def test_a_read_model_failure_is_retried_then_fails_the_job_visibly(store: Store) -> None:
    job = await start(store)
    broken = worker(store, _BrokenReadModel([]))

    tries = [await broken.run_once() for _ in range(SETTINGS.max_attempts)]

    assert tries == [False] * SETTINGS.max_attempts
    failed = await status(store, job)
    assert (failed.state, failed.error) == (ExportState.FAILED, READ_MODEL_FAILED)


async def test_a_read_model_failure_queues_the_job_again_while_attempts_remain(
    store: Store,
) -> None:
    job = await start(store)

    assert await worker(store, _BrokenReadModel([])).run_once() is False

    assert (await status(store, job)).state is ExportState.QUEUED
    assert await worker(store, MemoryFacts([customer_facts(1)])).run_once() is True
    assert (await status(store, job)).state is ExportState.SUCCEEDED
