"""The gateway's Prometheus metrics, created once per app in one registry (``GatewayMetrics``).

Single process: one ``CollectorRegistry`` per app, so that two apps (two tests) never share
a counter. Several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
(before the process starts, as prometheus-client reads it at import) and every worker writes
its samples there; a scrape of any worker then reads all of them through prometheus-client's
``MultiProcessCollector``. Gauges read at scrape time (taxonomy, last sync) describe what the
scraped process or the store sees, not a sum over workers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.taxonomy import Taxonomy
from app.analytics.metrics import FactsMetrics
from app.cache.metrics import CacheMetrics
from app.exports.metrics import ExportMetrics
from app.identity.linking_metrics import LinkingMetrics
from app.identity.metrics import IdentityQualityCollector
from app.interactions.metrics import InteractionMetrics
from app.resilience.metrics import ResilienceMetrics
from app.security.audit_metrics import AuditMetrics
from app.store.sync_values import SyncRun
from app.webhooks.metrics import WebhookMetrics
from kernel.models import Source

__all__ = [
    "CONTENT_TYPE_LATEST",
    "GatewayMetrics",
    "SyncRunCollector",
    "TaxonomyCollector",
    "operation_label",
    "taxonomies_of",
]

#: Upstream calls answer in milliseconds to a couple of seconds (the read timeout).
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
#: A whole GraphQL request is about its slowest upstream, plus the store.
GRAPHQL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)

#: Operation names are the client's to choose: beyond this many distinct ones, or for a
#: name that is not a plain identifier, the label is "other", so that a client cannot
#: grow the series without bound.
MAX_OPERATION_NAMES = 200
#: What an operation name must look like to be logged or used as a label.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def operation_label(name: str | None, seen: set[str]) -> str:
    """The metric label for operation ``name``: itself, ``anonymous`` or ``other``.

    ``seen`` holds the names already used as labels; a new acceptable name is added.
    """
    if not name:
        return "anonymous"
    if not OPERATION_NAME.fullmatch(name):
        return "other"
    if name not in seen:
        if len(seen) >= MAX_OPERATION_NAMES:
            return "other"
        seen.add(name)
    return name


class TaxonomyCollector(Collector):
    """Unmapped vendor words per source and field, read from the adapters' ``Taxonomy``s."""

    def __init__(self) -> None:
        #: Filled by the lifespan once the adapters exist.
        self.taxonomies: list[Taxonomy[Any]] = []

    def collect(self) -> Iterator[Metric]:
        """Two gauges: distinct unmapped words, and how often they were met."""
        words = GaugeMetricFamily(
            "scv_taxonomy_unmapped_words",
            "Distinct vendor words with no canonical mapping, per source and field",
            labels=["source", "field"],
        )
        seen = GaugeMetricFamily(
            "scv_taxonomy_unmapped_occurrences",
            "Times a vendor word with no canonical mapping was met, per source and field",
            labels=["source", "field"],
        )
        for taxonomy in self.taxonomies:
            labels = [taxonomy.source.value, taxonomy.field]
            words.add_metric(labels, len(taxonomy.unmapped))
            seen.add_metric(labels, sum(taxonomy.unmapped.values()))
        yield words
        yield seen


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


@dataclass
class GatewayMetrics:
    """Every metric of the gateway, and the registry a scrape reads them from."""

    registry: CollectorRegistry
    upstream_requests: Counter
    upstream_seconds: Histogram
    graphql_requests: Counter
    graphql_seconds: Histogram
    #: Requests refused by a limit before anything executed (app/limits/checks.py), by code.
    graphql_refused: Counter
    taxonomy: TaxonomyCollector
    sync_run: SyncRunCollector
    audit: AuditMetrics
    cache: CacheMetrics
    resilience: ResilienceMetrics
    interactions: InteractionMetrics
    #: Live lookups and supervisors' link decisions.
    linking: LinkingMetrics
    webhooks: WebhookMetrics
    #: Conflicts and possible duplicates, read from the store by the scrape handler.
    identity: IdentityQualityCollector
    exports: ExportMetrics
    facts: FactsMetrics
    _operations: set[str] = field(default_factory=set)

    @classmethod
    def create(
        cls, registry: CollectorRegistry | None = None, multiproc_dir: str | None = None
    ) -> GatewayMetrics:
        """The metrics, in ``registry`` or a new one.

        ``multiproc_dir`` (default: ``PROMETHEUS_MULTIPROC_DIR``; ``""`` for none) switches to
        multi-process mode: counters and histograms are then registered nowhere (their
        samples go to the directory) and the registry reads the directory instead.
        """
        if multiproc_dir is None:
            multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        scrape = registry if registry is not None else CollectorRegistry()
        if multiproc_dir:
            multiprocess.MultiProcessCollector(scrape, path=multiproc_dir)  # type: ignore[no-untyped-call]
            own: CollectorRegistry | None = None
        else:
            ProcessCollector(registry=scrape)
            PlatformCollector(registry=scrape)
            own = scrape
        taxonomy = TaxonomyCollector()
        sync_run = SyncRunCollector()
        scrape.register(taxonomy)
        scrape.register(sync_run)
        identity = IdentityQualityCollector()
        scrape.register(identity)
        return cls(
            registry=scrape,
            upstream_requests=Counter(
                "scv_upstream_requests",
                "Requests to systems of record, by source and outcome (ok or the error code)",
                ["source", "outcome"],
                registry=own,
            ),
            upstream_seconds=Histogram(
                "scv_upstream_request_duration_seconds",
                "Time taken by requests to systems of record, by source",
                ["source"],
                buckets=UPSTREAM_BUCKETS,
                registry=own,
            ),
            graphql_requests=Counter(
                "scv_graphql_requests",
                "GraphQL requests by operation name, role and outcome",
                ["operation", "role", "outcome"],
                registry=own,
            ),
            graphql_seconds=Histogram(
                "scv_graphql_request_duration_seconds",
                "Time taken by GraphQL requests, by operation name and role",
                ["operation", "role"],
                buckets=GRAPHQL_BUCKETS,
                registry=own,
            ),
            graphql_refused=Counter(
                "scv_graphql_refused",
                "GraphQL requests refused by a limit before executing, by code "
                "(QUERY_TOO_DEEP, QUERY_TOO_COSTLY, RATE_LIMITED, PERSISTED_QUERY_NOT_FOUND, ...)",
                ["code"],
                registry=own,
            ),
            taxonomy=taxonomy,
            sync_run=sync_run,
            audit=AuditMetrics.create(own),
            cache=CacheMetrics.create(own),
            resilience=ResilienceMetrics.create(own, scrape),
            interactions=InteractionMetrics.create(own),
            linking=LinkingMetrics.create(own),
            webhooks=WebhookMetrics.create(own),
            identity=identity,
            exports=ExportMetrics.create(own, scrape),
            facts=FactsMetrics.create(own),
        )

    def observe_upstream(self, source: Source, seconds: float, error_code: str | None) -> None:
        """Count one upstream request and its time."""
        self.upstream_requests.labels(source.value, error_code or "ok").inc()
        self.upstream_seconds.labels(source.value).observe(seconds)

    def count_refusal(self, code: str) -> None:
        """Count one request refused by a limit (codes are the gateway's own: bounded)."""
        self.graphql_refused.labels(code).inc()

    def observe_graphql(
        self, operation: str | None, role: str, outcome: str, seconds: float
    ) -> None:
        """Count one GraphQL request and its time."""
        label = operation_label(operation, self._operations)
        self.graphql_requests.labels(label, role, outcome).inc()
        self.graphql_seconds.labels(label, role).observe(seconds)

    def watch_taxonomies(self, taxonomies: Iterable[Taxonomy[Any]]) -> None:
        """Report the unmapped words of ``taxonomies`` from now on."""
        self.taxonomy.taxonomies[:] = list(taxonomies)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def taxonomies_of(adapters: Sequence[object]) -> list[Taxonomy[Any]]:
    """The ``Taxonomy`` attributes of ``adapters`` (wrappers without any are skipped)."""
    return [
        value
        for adapter in adapters
        for value in getattr(adapter, "__dict__", {}).values()
        if isinstance(value, Taxonomy)
    ]
