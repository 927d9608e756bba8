"""The latest identity sync in /metrics, as the store recorded it (``scv_sync_*``)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.store.sync.values import SyncRun

#: The key of a pass's duration among a sync run's per-source counts (``app.identity.sync.runner``).
_PASS_DURATION = "duration_ms"


class SyncRunCollector(Collector):
    """The latest identity sync as recorded in the store (whichever process ran it).

    The scrape handler refreshes ``latest`` from the store before collecting: a collector
    cannot await, and the sync usually runs in another process (``scv sync``).
    """

    def __init__(self) -> None:
        self.latest: SyncRun | None = None
        #: Runs by outcome (running, succeeded, failed), also refreshed by the scrape handler.
        self.runs: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        """Runs by outcome; the latest run's id, outcome, finish time and record counts."""
        if self.runs:
            # A gauge, not a counter: a run moves from "running" to its outcome.
            runs = GaugeMetricFamily(
                "scv_sync_runs",
                "Identity sync runs recorded in the store, by outcome",
                labels=["outcome"],
            )
            for state in ("running", "succeeded", "failed"):
                runs.add_metric([state], self.runs.get(state, 0))
            yield runs
        run = self.latest
        if run is None:
            return
        yield GaugeMetricFamily(
            "scv_sync_last_run_id", "Id of the latest identity sync run (runs so far)", run.id
        )
        outcome = GaugeMetricFamily(
            "scv_sync_last_run_outcome",
            "1 for the outcome of the latest identity sync run",
            labels=["outcome"],
        )
        outcome.add_metric([run.outcome], 1)
        yield outcome
        if run.finished_at is not None:
            yield GaugeMetricFamily(
                "scv_sync_last_run_finished_timestamp_seconds",
                "When the latest identity sync run finished",
                run.finished_at.timestamp(),
            )
        records = GaugeMetricFamily(
            "scv_sync_last_run_records",
            "Records of the latest identity sync run, per source and count "
            "(seen, linked_new, already_linked, customers_created, ambiguous, skipped_invalid)",
            labels=["source", "count"],
        )
        passes = GaugeMetricFamily(
            "scv_sync_last_run_pass_seconds",
            "How long each source's pass of the latest identity sync run took",
            labels=["source"],
        )
        for source, counts in sorted(run.counts.items()):
            if isinstance(counts, dict):
                for name, value in sorted(counts.items()):
                    if name == _PASS_DURATION and isinstance(value, int):
                        passes.add_metric([source], value / 1000)
                    elif isinstance(value, int):
                        records.add_metric([source, name], value)
        yield records
        yield passes
        yield GaugeMetricFamily(
            "scv_sync_last_run_incremental",
            "1 when the latest identity sync read a source from its saved cursor, 0 when in full",
            1 if run.mode == "incremental" else 0,
        )
