"""Writes' Prometheus metrics, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kernel.writes import WriteStatus


class OutboxCollector(Collector):
    """Writes per status and the age of the oldest PENDING one, as the store holds them
    (every process's writes). The scrape handler refreshes them first: a collector cannot
    await. A PENDING write that grows old is what to alert on."""

    def __init__(self) -> None:
        self.by_status: dict[str, int] = {}
        self.oldest_pending_seconds = 0.0

    def collect(self) -> Iterator[Metric]:
        """Two gauges: writes per status, and the oldest PENDING write's age."""
        writes = GaugeMetricFamily(
            "scv_writes", "Writes in the store, by status", labels=["status"]
        )
        for status in WriteStatus:
            writes.add_metric([status.value], self.by_status.get(status.value, 0))
        yield writes
        yield GaugeMetricFamily(
            "scv_writes_oldest_pending_seconds",
            "Age of the oldest write still PENDING in the outbox (0: none)",
            value=self.oldest_pending_seconds,
        )


@dataclass(frozen=True)
class WriteMetrics:
    """Mutations by outcome, deliveries by source and outcome, the outbox's state."""

    mutations: Counter
    deliveries: Counter
    outbox: OutboxCollector

    @classmethod
    def create(cls, registry: CollectorRegistry | None, scrape: CollectorRegistry) -> WriteMetrics:
        """The counters in ``registry`` (None: the multi-process directory only); the outbox
        gauges, read at scrape time, in ``scrape``."""
        outbox = OutboxCollector()
        scrape.register(outbox)
        return cls(
            mutations=Counter(
                "scv_write_mutations",
                "Write mutations answered, by mutation and outcome (APPLIED, PENDING, FAILED, "
                "REPLAYED: a retried key; REFUSED: who, input or key)",
                ["mutation", "outcome"],
                registry=registry,
            ),
            deliveries=Counter(
                "scv_write_deliveries",
                "Tries of a write at its system of record, by source and outcome (applied, "
                "retry: kept for later, failed: given up)",
                ["source", "outcome"],
                registry=registry,
            ),
            outbox=outbox,
        )
