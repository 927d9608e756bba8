"""The webhook receivers' Prometheus metrics, registered by
``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from kernel.models import Source

#: From a change at the vendor to the gateway forgetting the old value: vendors deliver in
#: well under a second normally, and retry over minutes (or days) when we were down.
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)
#: From a delivery received to its event committed: a few store statements, milliseconds
#: normally; seconds mean the store or the cache is slow.
APPLY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


@dataclass(frozen=True)
class WebhookMetrics:
    """Deliveries received and rejected; events processed, duplicate, out of order or failed;
    the lag from the vendor's event to the invalidation, and from receipt to applied."""

    received: Counter
    rejected: Counter
    duplicates: Counter
    processed: Counter
    stale_updates: Counter
    failed: Counter
    lag_seconds: Histogram
    apply_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> WebhookMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            received=Counter(
                "scv_webhook_deliveries_received",
                "Webhook deliveries (HTTP requests) received, by source",
                ["source"],
                registry=registry,
            ),
            rejected=Counter(
                "scv_webhook_deliveries_rejected",
                "Webhook deliveries refused, by source and reason (missing_signature, "
                "bad_signature, stale_timestamp, malformed, too_large)",
                ["source", "reason"],
                registry=registry,
            ),
            duplicates=Counter(
                "scv_webhook_events_duplicate",
                "Webhook events already processed (by this or another gateway process), by source",
                ["source"],
                registry=registry,
            ),
            processed=Counter(
                "scv_webhook_events_processed",
                "Webhook events processed (cache invalidated, identity keys updated), by source",
                ["source"],
                registry=registry,
            ),
            stale_updates=Counter(
                "scv_webhook_stale_key_updates",
                "Email or phone changes skipped because a newer event was applied, by source",
                ["source"],
                registry=registry,
            ),
            failed=Counter(
                "scv_webhook_events_failed",
                "Webhook events that could not be applied (store or cache failing) and were "
                "answered 503 for the vendor to retry, by source",
                ["source"],
                registry=registry,
            ),
            lag_seconds=Histogram(
                "scv_webhook_event_lag_seconds",
                "Time from the vendor's event time to the invalidation of the cached record, "
                "by source",
                ["source"],
                buckets=LAG_BUCKETS,
                registry=registry,
            ),
            apply_seconds=Histogram(
                "scv_webhook_event_apply_seconds",
                "Time from the gateway receiving a webhook delivery to its event applied "
                "(committed), by source: the event latency of integrationKpis",
                ["source"],
                buckets=APPLY_BUCKETS,
                registry=registry,
            ),
        )

    def observe_processed(
        self, source: Source, lag_seconds: float, *, applied_after: float = 0.0
    ) -> None:
        """Count one processed event, its lag (never negative: clocks differ a little) and
        the seconds from its delivery's receipt to it applied."""
        self.processed.labels(source.value).inc()
        self.lag_seconds.labels(source.value).observe(max(0.0, lag_seconds))
        self.apply_seconds.labels(source.value).observe(max(0.0, applied_after))
