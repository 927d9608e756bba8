"""Live changes' Prometheus metrics, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: From the gateway hearing a change to a subscriber being handed it: milliseconds when
#: the engine is near, seconds only when something is wrong.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class LiveMetrics:
    """Open subscriptions; events published, received, fanned out, dropped and out of date;
    the latency from hearing a change to handing it to a subscriber."""

    open_subscriptions: Gauge
    published: Counter
    received: Counter
    fanned_out: Counter
    dropped: Counter
    stale: Counter
    refused: Counter
    latency_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> LiveMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            open_subscriptions=Gauge(
                "scv_live_subscriptions_open",
                "GraphQL subscriptions open now, by root field",
                ["field"],
                registry=registry,
                multiprocess_mode="livesum",
            ),
            published=Counter(
                "scv_live_events_published",
                "Changes this process published to the other instances, by kind",
                ["kind"],
                registry=registry,
            ),
            received=Counter(
                "scv_live_events_received",
                "Changes this process received from the engine (its own included), by kind",
                ["kind"],
                registry=registry,
            ),
            fanned_out=Counter(
                "scv_live_events_fanned_out",
                "Events put on a subscription's queue, by root field",
                ["field"],
                registry=registry,
            ),
            dropped=Counter(
                "scv_live_events_dropped",
                "Events dropped because a subscriber's queue was full (it is told to "
                "re-query), by root field",
                ["field"],
                registry=registry,
            ),
            stale=Counter(
                "scv_live_events_out_of_order",
                "Vendor events older than the newest already applied for their record: not "
                "published, by source",
                ["source"],
                registry=registry,
            ),
            refused=Counter(
                "scv_live_subscriptions_refused",
                "Subscriptions refused or ended by the gateway, by reason",
                ["reason"],
                registry=registry,
            ),
            latency_seconds=Histogram(
                "scv_live_event_latency_seconds",
                "Time from the gateway hearing a change (webhook received, step taken) to a "
                "subscriber being handed it, by root field",
                ["field"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )
