"""The gateway's Prometheus metrics, created once per app in one registry (``GatewayMetrics``).

Each concept owns its metrics (``app/<concept>/metrics.py``); this composes them, with the
requests' own counters, into the registry a scrape reads.

Single process: one ``CollectorRegistry`` per app, so that two apps (two tests) never share
a counter. Several worker processes: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory
(before the process starts, as prometheus-client reads it at import) and every worker writes
its samples there; a scrape of any worker then reads all of them through prometheus-client's
``MultiProcessCollector``. Gauges read at scrape time (taxonomy, last sync) describe what the
scraped process or the store sees, not a sum over workers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
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

from adapters.taxonomy import Taxonomy
from adapters.unreadable import UnreadableRecords
from app.analytics.metrics import FactsMetrics
from app.cache.metrics import CacheMetrics
from app.exports.metrics import ExportMetrics
from app.identity.linking_metrics import LinkingMetrics
from app.identity.metrics import IdentityQualityCollector
from app.identity.sync.metrics import SyncRunCollector
from app.interactions.metrics import InteractionMetrics
from app.kpis.metrics import TicketBacklogCollector
from app.live.metrics import LiveMetrics
from app.observability.operations import operation_label
from app.observability.series import Series
from app.observability.taxonomy import TaxonomyCollector
from app.resilience.metrics import ResilienceMetrics
from app.rollout.metrics import RolloutMetrics
from app.security.audit_metrics import AuditMetrics
from app.webhooks.metrics import WebhookMetrics
from app.whole_response.metrics import WholeResponseMetrics
from app.writes.metrics import WriteMetrics
from kernel.models import Source

__all__ = ["CONTENT_TYPE_LATEST", "GatewayMetrics"]

#: Upstream calls answer in milliseconds to a couple of seconds (the read timeout).
UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
#: A whole GraphQL request is about its slowest upstream, plus the store.
GRAPHQL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


#: The metrics counted on every upstream call or request, by attribute name.
_HOT_METRICS = (
    "upstream_requests",
    "upstream_seconds",
    "graphql_requests",
    "graphql_seconds",
    "tenant_requests",
)


@dataclass
class GatewayMetrics:
    """Every metric of the gateway, and the registry a scrape reads them from."""

    registry: CollectorRegistry
    upstream_requests: Counter
    upstream_seconds: Histogram
    graphql_requests: Counter
    graphql_seconds: Histogram
    #: GraphQL requests by tenant and outcome (a label of bounded values: the tenants served).
    tenant_requests: Counter
    #: Requests refused by a limit before anything executed (app/limits/checks.py), by code.
    graphql_refused: Counter
    taxonomy: TaxonomyCollector
    sync_run: SyncRunCollector
    audit: AuditMetrics
    cache: CacheMetrics
    whole_response: WholeResponseMetrics
    resilience: ResilienceMetrics
    interactions: InteractionMetrics
    #: Live lookups and supervisors' link decisions.
    linking: LinkingMetrics
    webhooks: WebhookMetrics
    #: Conflicts and possible duplicates, read from the store by the scrape handler.
    identity: IdentityQualityCollector
    exports: ExportMetrics
    facts: FactsMetrics
    live: LiveMetrics
    writes: WriteMetrics
    rollout: RolloutMetrics
    #: The open-ticket backlog, read from the store by the scrape handler.
    backlog: TicketBacklogCollector
    #: Told of every upstream call too (the rollout's KPI windows).
    upstream_watchers: list[Callable[[Source, float, str | None], None]] = field(
        default_factory=list
    )
    _operations: set[str] = field(default_factory=set)
    #: The labelled series of the metrics counted on every upstream call and request
    #: (``app.observability.series``).
    _series: dict[str, Series] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _HOT_METRICS:
            self._series[name] = Series(getattr(self, name))

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
        backlog = TicketBacklogCollector()
        scrape.register(backlog)
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
            tenant_requests=Counter(
                "scv_tenant_graphql_requests",
                "GraphQL requests by the tenant they act for (none: refused before one was "
                "chosen) and outcome",
                ["tenant", "outcome"],
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
            whole_response=WholeResponseMetrics.create(own),
            resilience=ResilienceMetrics.create(own, scrape),
            interactions=InteractionMetrics.create(own),
            linking=LinkingMetrics.create(own),
            webhooks=WebhookMetrics.create(own),
            identity=identity,
            exports=ExportMetrics.create(own, scrape),
            facts=FactsMetrics.create(own),
            live=LiveMetrics.create(own),
            writes=WriteMetrics.create(own, scrape),
            rollout=RolloutMetrics.create(own),
            backlog=backlog,
        )

    def observe_upstream(self, source: Source, seconds: float, error_code: str | None) -> None:
        """Count one upstream request and its time."""
        self._series["upstream_requests"](source.value, error_code or "ok").inc()
        self._series["upstream_seconds"](source.value).observe(seconds)
        for watcher in self.upstream_watchers:
            watcher(source, seconds, error_code)

    def count_refusal(self, code: str) -> None:
        """Count one request refused by a limit (codes are the gateway's own: bounded)."""
        self.graphql_refused.labels(code).inc()

    def observe_graphql(
        self,
        operation: str | None,
        role: str,
        outcome: str,
        seconds: float,
        tenant: str | None = None,
    ) -> None:
        """Count one GraphQL request and its time, and its tenant's (a served tenant,
        ``platform`` or ``none``: as many values as tenants are configured, plus two)."""
        label = operation_label(operation, self._operations)
        self._series["graphql_requests"](label, role, outcome).inc()
        self._series["graphql_seconds"](label, role).observe(seconds)
        self._series["tenant_requests"](tenant or "none", outcome).inc()

    def watch_taxonomies(self, taxonomies: Iterable[Taxonomy[Any]]) -> None:
        """Report the unmapped words of ``taxonomies`` from now on."""
        self.taxonomy.taxonomies[:] = list(taxonomies)

    def watch_unreadable(self, unreadable: Iterable[UnreadableRecords]) -> None:
        """Report the records ``unreadable`` counts from now on."""
        self.taxonomy.unreadable[:] = list(unreadable)

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
