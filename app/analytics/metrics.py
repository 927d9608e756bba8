"""The read model's Prometheus metrics, registered by
``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class FactsMetrics:
    """One-customer refreshes of ``customer_facts`` that webhooks asked for."""

    updates: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> FactsMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            updates=Counter(
                "scv_customer_facts_updates",
                "Customer facts refreshed from a system after a webhook, by source and outcome "
                "(refreshed; failed: the system did not answer; unlinked or not_shown: no "
                "customer shows the record)",
                ["source", "outcome"],
                registry=registry,
            ),
        )
