"""Fair share's Prometheus metrics: each source's analysts' limit, queue, waits and refusals.

Read live from the policies (``SourceResilience.sharing``) at scrape time, as the breaker's
state is (``app.resilience.metrics``); with several worker processes each worker publishes
them every second into multi-process gauges instead, summed over the live workers (the
latency ratios: the highest). The waits and refusals are counts since the process started, so
they are exposed as counters in one process and as summed gauges across processes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prometheus_client import Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.resilience.events import SharingSnapshot
from kernel.models import Source

_HELP = {
    "limit": "Analysts' concurrency limit per source now (the adaptive limit of their lane)",
    "queued": "Analysts' calls waiting for their lane per source now",
    "ratio": "Latency over its baseline as the analysts' limit last read it, per source: of "
    "agents (their latency to the source) and of the source (analysts' own latency to it)",
    "waits": "Analysts' calls that waited in their lane's queue, per source",
    "wait_seconds": "Seconds analysts' calls waited in their lane's queue, per source",
    "refusals": "Calls refused UPSTREAM_BUSY by fair share, per source, traffic class and "
    "reason (queue: the wait would pass the deadline; rate: the source's call rate)",
}


class SharingState(Protocol):
    """What the collector reads of one source (``SourceResilience`` is one)."""

    @property
    def source(self) -> Source:
        """The source."""
        ...

    def sharing(self) -> SharingSnapshot:
        """Its analysts' lane and call rate now."""
        ...


class SharingCollector(Collector):
    """Each source's fair-share state, read at scrape time (one process)."""

    def __init__(self) -> None:
        self.states: list[SharingState] = []
        #: Whether this process serves analysts: one that does not (``SCV_AUDIENCE=agents``)
        #: shows its call rates' refusals only, not lanes no analyst ever takes.
        self.lanes = True

    def collect(self) -> Iterator[Metric]:
        """The gauges and counts of every watched source."""
        limit = GaugeMetricFamily("scv_fair_share_limit", _HELP["limit"], labels=["source"])
        queued = GaugeMetricFamily("scv_fair_share_queued", _HELP["queued"], labels=["source"])
        ratio = GaugeMetricFamily(
            "scv_fair_share_latency_ratio", _HELP["ratio"], labels=["source", "of"]
        )
        waits = CounterMetricFamily("scv_fair_share_waits", _HELP["waits"], labels=["source"])
        wait_seconds = CounterMetricFamily(
            "scv_fair_share_wait_seconds", _HELP["wait_seconds"], labels=["source"]
        )
        refusals = CounterMetricFamily(
            "scv_fair_share_refusals",
            _HELP["refusals"],
            labels=["source", "traffic_class", "reason"],
        )
        for state in self.states:
            name, now = state.source.value, state.sharing()
            for (kind, reason), count in sorted(now.refusals.items()):
                refusals.add_metric([name, kind, reason], count)
            if not self.lanes:
                continue
            limit.add_metric([name], now.limit)
            queued.add_metric([name], now.queued)
            ratio.add_metric([name, "agents"], now.agents_ratio)
            ratio.add_metric([name, "source"], now.source_ratio)
            waits.add_metric([name], now.waits)
            wait_seconds.add_metric([name], now.wait_seconds)
        yield from (limit, queued, ratio, waits, wait_seconds, refusals)


def _gauge(
    name: str, help_key: str, labels: list[str], mode: Literal["livesum", "livemax"]
) -> Gauge:
    return Gauge(name, _HELP[help_key], labels, registry=None, multiprocess_mode=mode)


@dataclass
class SharingGauges:
    """Multi-process gauges each worker writes its fair-share state to."""

    gauges: dict[str, Gauge] = field(
        default_factory=lambda: {
            "limit": _gauge("scv_fair_share_limit", "limit", ["source"], "livesum"),
            "queued": _gauge("scv_fair_share_queued", "queued", ["source"], "livesum"),
            "ratio": _gauge("scv_fair_share_latency_ratio", "ratio", ["source", "of"], "livemax"),
            "waits": _gauge("scv_fair_share_waits_total", "waits", ["source"], "livesum"),
            "wait_seconds": _gauge(
                "scv_fair_share_wait_seconds_total", "wait_seconds", ["source"], "livesum"
            ),
            "refusals": _gauge(
                "scv_fair_share_refusals_total",
                "refusals",
                ["source", "traffic_class", "reason"],
                "livesum",
            ),
        }
    )

    def publish(self, states: Iterable[SharingState], *, lanes: bool = True) -> None:
        """Write this worker's fair-share state (``lanes``: as ``SharingCollector.lanes``)."""
        for state in states:
            name, now = state.source.value, state.sharing()
            for (kind, reason), count in now.refusals.items():
                self.gauges["refusals"].labels(name, kind, reason).set(count)
            if not lanes:
                continue
            self.gauges["limit"].labels(name).set(now.limit)
            self.gauges["queued"].labels(name).set(now.queued)
            self.gauges["ratio"].labels(name, "agents").set(now.agents_ratio)
            self.gauges["ratio"].labels(name, "source").set(now.source_ratio)
            self.gauges["waits"].labels(name).set(now.waits)
            self.gauges["wait_seconds"].labels(name).set(now.wait_seconds)
