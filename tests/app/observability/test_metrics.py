"""The metrics registry: isolation per app, bounded labels, scrape-time gauges, multi-process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from adapters.taxonomy import Taxonomy, taxonomies_of
from app.observability.operations import MAX_OPERATION_NAMES, operation_label
from app.store.customers import Store
from app.store.sync.values import SyncRun
from app.wiring.metrics import GatewayMetrics
from app.wiring.probes import store_readiness
from kernel.models import Source, TicketStatus


def single() -> GatewayMetrics:
    return GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")


def test_two_apps_do_not_share_counters() -> None:
    first, second = single(), single()
    first.observe_upstream(Source.CRM, 0.01, None)
    labels = {"source": "CRM", "outcome": "ok"}
    assert first.registry.get_sample_value("scv_upstream_requests_total", labels) == 1
    assert second.registry.get_sample_value("scv_upstream_requests_total", labels) is None


def test_the_exposition_is_prometheus_text() -> None:
    metrics = single()
    metrics.observe_graphql("CustomerView", "agent", "ok", 0.2)
    text = metrics.exposition().decode()
    assert "# TYPE scv_graphql_requests_total counter" in text
    assert 'scv_graphql_requests_total{operation="CustomerView",outcome="ok",role="agent"} 1.0' in (
        text
    )
    assert "scv_graphql_request_duration_seconds_bucket" in text


def test_operation_names_are_bounded() -> None:
    seen: set[str] = set()
    assert operation_label(None, seen) == "anonymous"
    assert operation_label("not an identifier!", seen) == "other"
    for n in range(MAX_OPERATION_NAMES):
        assert operation_label(f"Op{n}", seen) == f"Op{n}"
    assert operation_label("OneTooMany", seen) == "other"
    assert operation_label("Op0", seen) == "Op0"


def test_unmapped_taxonomy_words_are_read_at_scrape_time() -> None:
    metrics = single()

    class Adapter:
        def __init__(self) -> None:
            self.ticket_status = Taxonomy(
                Source.SUPPORT, "ticket_status", {"open": "OPEN"}, TicketStatus
            )

    adapter = Adapter()
    metrics.watch_taxonomies(taxonomies_of([adapter, object()]))
    labels = {"source": "SUPPORT", "field": "ticket_status"}
    assert metrics.registry.get_sample_value("scv_taxonomy_unmapped_words", labels) == 0
    adapter.ticket_status.map("on-fire")
    adapter.ticket_status.map("on-fire")
    adapter.ticket_status.map("frozen")
    assert metrics.registry.get_sample_value("scv_taxonomy_unmapped_words", labels) == 2
    assert metrics.registry.get_sample_value("scv_taxonomy_unmapped_occurrences", labels) == 3


def test_the_latest_sync_run_is_exported() -> None:
    metrics = single()
    assert metrics.registry.get_sample_value("scv_sync_last_run_id") is None
    metrics.sync_run.latest = SyncRun(
        id=3,
        started_at=datetime(2026, 1, 1, tzinfo=UTC),
        finished_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
        outcome="succeeded",
        counts={"CRM": {"seen": 300, "linked_new": 0}, "BILLING": {"seen": 250}},
    )
    value = metrics.registry.get_sample_value
    assert value("scv_sync_last_run_id") == 3
    assert value("scv_sync_last_run_outcome", {"outcome": "succeeded"}) == 1
    assert value("scv_sync_last_run_records", {"source": "CRM", "count": "seen"}) == 300
    assert value("scv_sync_last_run_records", {"source": "BILLING", "count": "seen"}) == 250
    assert value("scv_sync_last_run_finished_timestamp_seconds") == (
        datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp()
    )


def test_sync_runs_are_counted_by_outcome() -> None:
    metrics = single()
    metrics.sync_run.runs = {"succeeded": 4, "failed": 1}
    value = metrics.registry.get_sample_value
    assert value("scv_sync_runs", {"outcome": "succeeded"}) == 4
    assert value("scv_sync_runs", {"outcome": "failed"}) == 1
    assert value("scv_sync_runs", {"outcome": "running"}) == 0


async def test_the_store_counts_sync_runs_by_outcome(store: Store) -> None:
    assert await store.count_sync_runs() == {}
    async with store.sync_session() as session:
        first = await session.start_run()
        await session.finish_run(first, "succeeded", {})
        await session.start_run()
    assert await store.count_sync_runs() == {"succeeded": 1, "running": 1}


_WORKER = """
import sys
from kernel.models import Source
from app.wiring.metrics import GatewayMetrics
metrics = GatewayMetrics.create()
if sys.argv[1] == "write":
    metrics.observe_upstream(Source.CRM, 0.02, None)
else:
    sys.stdout.write(metrics.exposition().decode())
"""


def _worker(mode: str, directory: Path) -> str:
    # prometheus-client picks multi-process mode at import, so each "worker" is a process.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    return done.stdout


def test_multiprocess_mode_sums_the_workers(tmp_path: Path) -> None:
    _worker("write", tmp_path)
    _worker("write", tmp_path)
    text = _worker("read", tmp_path)
    assert 'scv_upstream_requests_total{outcome="ok",source="CRM"} 2.0' in text
    assert "process_cpu_seconds_total" not in text


_PUBLISHER = """
import sys
from types import SimpleNamespace
from kernel.models import Source
from app.wiring.metrics import GatewayMetrics
metrics = GatewayMetrics.create()
if sys.argv[1] == "read":
    sys.stdout.write(metrics.exposition().decode())
else:
    breaker, in_use = sys.argv[1], int(sys.argv[2])
    metrics.resilience.watch([SimpleNamespace(
        source=Source.CRM, breaker_state=breaker, bulkhead_in_use=in_use,
        bulkhead_analyst_in_use=1)])
    metrics.resilience.publish()
"""


def _publisher(directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", _PUBLISHER, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    return done.stdout


def test_multiprocess_mode_shows_every_workers_breakers_and_slots(tmp_path: Path) -> None:
    _publisher(tmp_path, "open", "3")
    _publisher(tmp_path, "closed", "4")

    text = _publisher(tmp_path, "read")

    # Open in one worker is open for the alert; the slots in use add up.
    assert 'scv_breaker_state{source="CRM",state="open"} 1.0' in text
    assert 'scv_breaker_state{source="CRM",state="closed"} 1.0' in text
    assert 'scv_breaker_state{source="CRM",state="half_open"} 0.0' in text
    assert 'scv_bulkhead_in_use{source="CRM"} 7.0' in text
    assert 'scv_bulkhead_analyst_in_use{source="CRM"} 2.0' in text


def test_a_single_process_reads_its_breakers_live_and_publishes_nothing() -> None:
    metrics = single()
    assert not metrics.resilience.published
    metrics.resilience.publish()  # a no-op, not an error


async def test_readiness_fails_when_the_store_is_down(database_url: str) -> None:
    closed = await Store.connect(database_url, pool_size=1)
    await closed.close()
    ready, checks = await store_readiness(closed)
    assert ready is False
    assert checks["reachable"] is False


async def test_readiness_passes_on_a_migrated_store(store: Store) -> None:
    ready, checks = await store_readiness(store)
    assert ready is True
    assert checks == {"reachable": True, "migrated": True, "pending_migrations": []}
