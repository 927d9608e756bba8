"""The resilience layer's Prometheus metrics, registered by
``app.wiring.metrics.GatewayMetrics``.

Counters (retries, breaker transitions, bulkhead rejections) are incremented as things
happen; the breaker state and the bulkhead occupancy are read live at scrape time by a
collector, so that an open breaker turning half-open by the passing of time shows without a
call having to happen first. ``ResilienceMetrics`` is the ``app.resilience.policy.ResilienceEvents``
the policies report to.

With several worker processes (prometheus-client's multi-process mode) a scrape reaches one
worker, whose collector knows only its own breakers. There each worker instead publishes
its live state every second (``publish``, from the app's lifespan) into multi-process
gauges, and a scrape reads every live worker's: the breaker state by the highest value of
any worker (``open`` is 1 when any worker's breaker is open), the slots in use summed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.resilience.sharing_metrics import SharingCollector, SharingGauges, SharingState
from kernel.models import Source

#: Every state a circuit breaker can be in, as ``app.resilience.policy.BreakerState`` spells them.
BREAKER_STATES = ("closed", "half_open", "open")


class SourceResilienceState(Protocol):
    """What the collector reads of one source (``app.resilience.policy.SourceResilience`` is
    one).
    """

    @property
    def source(self) -> Source:
        """The source."""
        ...

    @property
    def breaker_state(self) -> str:
        """Its breaker's state now: one of ``BREAKER_STATES``."""
        ...

    @property
    def bulkhead_in_use(self) -> int:
        """Its calls under way now, analysts' not counted."""
        ...

    @property
    def bulkhead_analyst_in_use(self) -> int:
        """Its analysts' calls under way now (``app.resilience.fair_share``)."""
        ...


class ResilienceCollector(Collector):
    """Each source's breaker state and bulkhead occupancy, read at scrape time."""

    def __init__(self) -> None:
        #: Filled by ``ResilienceMetrics.watch`` once the policies exist.
        self.states: list[SourceResilienceState] = []

    def collect(self) -> Iterator[Metric]:
        """Breaker state (1 for the current state, 0 for the others) and bulkhead in use."""
        breaker = GaugeMetricFamily(
            "scv_breaker_state",
            "Circuit breaker state per source: 1 for the current one (closed, half_open, open)",
            labels=["source", "state"],
        )
        in_use = GaugeMetricFamily(
            "scv_bulkhead_in_use",
            "Calls under way per source (bulkhead slots taken)",
            labels=["source"],
        )
        analyst_in_use = GaugeMetricFamily(
            "scv_bulkhead_analyst_in_use",
            "Analysts' calls under way per source (slots of their own bulkhead lane taken)",
            labels=["source"],
        )
        for state in self.states:
            analyst_in_use.add_metric([state.source.value], state.bulkhead_analyst_in_use)
            current = state.breaker_state
            for name in BREAKER_STATES:
                breaker.add_metric([state.source.value, name], 1 if name == current else 0)
            in_use.add_metric([state.source.value], state.bulkhead_in_use)
        yield breaker
        yield in_use
        yield analyst_in_use


@dataclass(frozen=True)
class WorkerGauges:
    """Multi-process gauges each worker writes its own live state to (see the module)."""

    breaker: Gauge
    in_use: Gauge
    analyst_in_use: Gauge

    @classmethod
    def create(cls) -> WorkerGauges:
        """The gauges, written to the multi-process directory (registered nowhere)."""
        return cls(
            breaker=Gauge(
                "scv_breaker_state",
                "Circuit breaker state per source: 1 for the current one (closed, half_open, "
                "open); with several workers, 1 when any worker's breaker is in that state",
                ["source", "state"],
                registry=None,
                multiprocess_mode="livemax",
            ),
            in_use=Gauge(
                "scv_bulkhead_in_use",
                "Calls under way per source (bulkhead slots taken), summed over workers",
                ["source"],
                registry=None,
                multiprocess_mode="livesum",
            ),
            analyst_in_use=Gauge(
                "scv_bulkhead_analyst_in_use",
                "Analysts' calls under way per source (slots of their own bulkhead lane taken), "
                "summed over workers",
                ["source"],
                registry=None,
                multiprocess_mode="livesum",
            ),
        )

    def publish(self, states: Iterable[SourceResilienceState]) -> None:
        """Write this worker's live state."""
        for state in states:
            source = state.source.value
            current = state.breaker_state
            for name in BREAKER_STATES:
                self.breaker.labels(source, name).set(1 if name == current else 0)
            self.in_use.labels(source).set(state.bulkhead_in_use)
            self.analyst_in_use.labels(source).set(state.bulkhead_analyst_in_use)


@dataclass(frozen=True)
class ResilienceMetrics:
    """Retries, breaker transitions and state, bulkhead rejections and occupancy, by source."""

    retries: Counter
    breaker_transitions: Counter
    bulkhead_rejections: Counter
    collector: ResilienceCollector
    #: Fair share's state per source (``app.resilience.sharing_metrics``).
    sharing: SharingCollector
    #: In multi-process mode only: where this worker publishes its live state.
    worker_gauges: WorkerGauges | None = None
    sharing_gauges: SharingGauges | None = None

    @classmethod
    def create(
        cls, registry: CollectorRegistry | None, scrape: CollectorRegistry
    ) -> ResilienceMetrics:
        """Counters in ``registry`` (None: the multi-process directory only); the live
        gauges' collector in ``scrape``, the registry a scrape reads (in multi-process mode,
        the workers' published gauges instead)."""
        collector = ResilienceCollector()
        sharing = SharingCollector()
        worker_gauges: WorkerGauges | None = None
        sharing_gauges: SharingGauges | None = None
        if registry is None:
            worker_gauges = WorkerGauges.create()
            sharing_gauges = SharingGauges()
        else:
            scrape.register(collector)
            scrape.register(sharing)
        return cls(
            retries=Counter(
                "scv_upstream_retries",
                "Retries of idempotent upstream reads, by source and the error that caused them",
                ["source", "reason"],
                registry=registry,
            ),
            breaker_transitions=Counter(
                "scv_breaker_transitions",
                "Circuit breaker state changes, by source and the states left and entered",
                ["source", "from_state", "to_state"],
                registry=registry,
            ),
            bulkhead_rejections=Counter(
                "scv_bulkhead_rejections",
                "Calls refused UPSTREAM_BUSY because the source's bulkhead stayed full",
                ["source"],
                registry=registry,
            ),
            collector=collector,
            sharing=sharing,
            worker_gauges=worker_gauges,
            sharing_gauges=sharing_gauges,
        )

    @property
    def published(self) -> bool:
        """Whether this worker must ``publish`` its live state (multi-process mode)."""
        return self.worker_gauges is not None

    def publish(self) -> None:
        """Write this worker's breaker states and slots in use (multi-process mode only)."""
        if self.worker_gauges is not None:
            self.worker_gauges.publish(self.collector.states)
        if self.sharing_gauges is not None:
            self.sharing_gauges.publish(self.sharing.states, lanes=self.sharing.lanes)

    def retried(self, source: Source, error_code: str) -> None:
        """Count one retry of a call to ``source`` after ``error_code``."""
        self.retries.labels(source.value, error_code).inc()

    def breaker_changed(self, source: Source, old: str, new: str) -> None:
        """Count one breaker transition of ``source``."""
        self.breaker_transitions.labels(source.value, old, new).inc()

    def bulkhead_rejected(self, source: Source) -> None:
        """Count one call to ``source`` refused by its full bulkhead."""
        self.bulkhead_rejections.labels(source.value).inc()

    def watch(self, states: Iterable[SourceResilienceState]) -> None:
        """Report these sources' breaker states and bulkhead occupancy from now on."""
        self.collector.states[:] = list(states)

    def watch_sharing(self, states: Iterable[SharingState], *, lanes: bool = True) -> None:
        """Report these sources' fair share (analysts' limit, queue, waits, refusals);
        ``lanes`` off in a process that serves no analysts (refusals only)."""
        self.sharing.states[:] = list(states)
        self.sharing.lanes = lanes
