"""Exports' Prometheus metrics, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: Every state a job can be in: each is reported, at 0 when no job is in it.
STATES = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED")


class ExportJobsCollector(Collector):
    """Export jobs per state, as the store holds them (every process's jobs).

    The scrape handler refreshes ``by_state`` from the store before collecting: a collector
    cannot await. A queue that grows, or jobs that stay RUNNING, is what to alert on.
    """

    def __init__(self) -> None:
        self.by_state: dict[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        """One gauge: jobs per state."""
        jobs = GaugeMetricFamily(
            "scv_export_jobs", "Export jobs in the store, by state", labels=["state"]
        )
        for state in STATES:
            jobs.add_metric([state], self.by_state.get(state, 0))
        yield jobs


@dataclass(frozen=True)
class ExportMetrics:
    """Jobs started, claims and how each ended, rows written, files downloaded, jobs by state."""

    started: Counter
    claims: Counter
    finished: Counter
    rows: Counter
    downloads: Counter
    jobs: ExportJobsCollector

    @classmethod
    def create(cls, registry: CollectorRegistry | None, scrape: CollectorRegistry) -> ExportMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only); the jobs
        gauge, read at scrape time, in ``scrape``."""
        jobs = ExportJobsCollector()
        scrape.register(jobs)
        return cls(
            started=Counter(
                "scv_export_jobs_started", "Export jobs queued by startExport", registry=registry
            ),
            claims=Counter(
                "scv_export_claims",
                "Export jobs claimed by a worker: fresh (queued), or resumed (a released job, "
                "or one whose worker stopped beating)",
                ["kind"],
                registry=registry,
            ),
            finished=Counter(
                "scv_export_jobs_finished",
                "Export jobs finished, by outcome (succeeded, failed)",
                ["outcome"],
                registry=registry,
            ),
            rows=Counter("scv_export_rows", "Rows written to exports", registry=registry),
            downloads=Counter(
                "scv_export_downloads",
                "GET /exports/{id} answers, by status (served, not_found, not_finished, "
                "audit_unavailable, forbidden)",
                ["status"],
                registry=registry,
            ),
            jobs=jobs,
        )
