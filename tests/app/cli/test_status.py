"""``scv status``: percentiles from histogram buckets, rows, the text, and a clear failure."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from app.cli.commands import main
from app.cli.status import (
    SourceRow,
    StatusReport,
    SyncStatus,
    histogram_quantile,
    render_status,
    status_report,
)
from app.store.sync.values import SyncRun
from app.wiring.metrics import GatewayMetrics
from kernel.models import Source

INF = math.inf
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def readyz(**sources: dict[str, object]) -> dict[str, object]:
    return {
        "status": "ready",
        "store": {"reachable": True, "migrated": True, "pending_migrations": []},
        "sources": sources,
    }


def window(requests: int, errors: int) -> dict[str, object]:
    return {
        "last_success": None,
        "last_error": None,
        "requests_5m": requests,
        "errors_5m": errors,
        "error_rate_5m": round(errors / requests, 4) if requests else None,
    }


def fresh_metrics() -> GatewayMetrics:
    return GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")


# --- histogram_quantile ---------------------------------------------------------------------


def test_the_quantile_interpolates_within_its_bucket() -> None:
    buckets = [(0.1, 50.0), (0.2, 100.0), (INF, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)


def test_the_first_bucket_interpolates_from_zero() -> None:
    assert histogram_quantile(0.5, [(0.1, 10.0), (INF, 10.0)]) == pytest.approx(0.05)


def test_a_rank_in_the_inf_bucket_answers_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, [(0.1, 5.0), (1.0, 5.0), (INF, 10.0)]) == 1.0


def test_bucket_order_does_not_matter() -> None:
    buckets = [(INF, 100.0), (0.2, 100.0), (0.1, 50.0)]
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)


@pytest.mark.parametrize("buckets", [[], [(0.1, 0.0), (INF, 0.0)], [(0.1, 3.0)]])
def test_an_empty_or_incomplete_histogram_has_no_quantile(
    buckets: list[tuple[float, float]],
) -> None:
    assert histogram_quantile(0.5, buckets) is None


def test_the_quantile_matches_observations_of_the_real_histogram() -> None:
    metrics = fresh_metrics()
    for _ in range(90):
        metrics.observe_upstream(Source.CRM, 0.03, None)  # (0.025, 0.05] bucket
    for _ in range(10):
        metrics.observe_upstream(Source.CRM, 0.7, None)  # (0.5, 1.0] bucket
    report = status_report(readyz(CRM=window(100, 0)), metrics.exposition().decode())
    [row] = report.sources
    # rank 50 of 90 in (0.025, 0.05]: 25 + 25 * 50/90 ms
    assert row.p50_ms == pytest.approx(25 + 25 * 50 / 90)
    # rank 99 is the 9th of 10 in (0.5, 1.0]: 500 + 500 * 9/10 ms
    assert row.p99_ms == pytest.approx(950)


# --- status_report --------------------------------------------------------------------------


def test_states_follow_the_five_minute_error_rate() -> None:
    metrics = fresh_metrics()
    report = status_report(
        readyz(BILLING=window(10, 2), CRM=window(10, 0), SUPPORT=window(0, 0)),
        metrics.exposition().decode(),
    )
    states = {row.source: (row.state, row.error_rate) for row in report.sources}
    assert states == {
        "BILLING": ("degraded", 0.2),
        "CRM": ("ok", 0.0),
        "SUPPORT": ("unknown", None),
    }


def test_a_breaker_that_is_not_closed_shows_as_the_sources_state() -> None:
    report = status_report(
        readyz(
            BILLING={**window(10, 10), "breaker": "open"},
            CRM={**window(10, 1), "breaker": "half_open"},
            SUPPORT={**window(10, 1), "breaker": "closed"},
        ),
        fresh_metrics().exposition().decode(),
    )
    states = {row.source: row.state for row in report.sources}
    assert states == {"BILLING": "open", "CRM": "probing", "SUPPORT": "degraded"}


def test_a_source_without_observations_has_no_latency_and_no_cache_ratio() -> None:
    report = status_report(readyz(IVR=window(0, 0)), fresh_metrics().exposition().decode())
    assert report.sources == (SourceRow("IVR", "unknown", None, None, None, None),)


def test_the_last_sync_is_read_from_the_sync_metrics() -> None:
    metrics = fresh_metrics()
    finished = NOW - timedelta(minutes=3)
    metrics.sync_run.latest = SyncRun(
        id=7,
        started_at=finished - timedelta(seconds=5),
        finished_at=finished,
        outcome="failed",
        counts={},
    )
    report = status_report(readyz(), metrics.exposition().decode())
    assert report.sync == SyncStatus(run_id=7, outcome="failed", finished_at=finished)


def test_no_sync_metrics_means_no_sync() -> None:
    assert status_report(readyz(), fresh_metrics().exposition().decode()).sync is None


def test_an_unready_gateway_is_reported_unready() -> None:
    body = {**readyz(), "status": "unready", "store": {"reachable": False, "migrated": False}}
    report = status_report(body, "")
    assert not report.ready
    assert "UNREADY (store reachable: no, migrated: no)" in render_status(report, "u", now=NOW)


# --- render_status --------------------------------------------------------------------------


def test_the_text_has_a_row_per_source_and_the_last_sync() -> None:
    report = StatusReport(
        ready=True,
        store={"reachable": True, "migrated": True},
        sources=(
            SourceRow("BILLING", "degraded", 12.5, 480.0, 0.25),
            SourceRow("IVR", "unknown", None, None, None),
        ),
        sync=SyncStatus(7, "succeeded", NOW - timedelta(minutes=5)),
    )
    text = render_status(report, "http://gw:8000", now=NOW)
    lines = text.splitlines()
    assert lines[0] == "gateway http://gw:8000: ready (store reachable: yes, migrated: yes)"
    assert lines[2].startswith("source   state     p50 ms  p99 ms  errors 5m  cache hits")
    assert lines[3].split() == ["BILLING", "degraded", "12.5", "480.0", "25.0%", "n/a"]
    assert lines[4].split() == ["IVR", "unknown", "-", "-", "-", "n/a"]
    assert lines[-1] == ("last sync: run 7, succeeded, finished 2026-01-02T11:55:00+00:00 (5m ago)")


def test_a_missing_sync_is_said_plainly() -> None:
    report = StatusReport(ready=True, store={}, sources=(), sync=None)
    assert render_status(report, "u", now=NOW).splitlines()[-1] == "last sync: none recorded"


# --- the command ----------------------------------------------------------------------------


def test_status_stops_with_exit_1_when_the_gateway_is_unreachable() -> None:
    # Port 9 (discard) on loopback: nothing listens there in a test run.
    with pytest.raises(SystemExit) as exited:
        main(["status", "--url", "http://127.0.0.1:9", "--timeout", "2"])
    message = str(exited.value.code)
    assert message.startswith("cannot reach the gateway at http://127.0.0.1:9")


def test_status_asks_the_gateway_where_scv_port_says_it_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCV_PORT", "9")  # discard: nothing listens there in a test run

    with pytest.raises(SystemExit) as exited:
        main(["status", "--timeout", "2"])

    assert str(exited.value.code).startswith("cannot reach the gateway at http://127.0.0.1:9")
