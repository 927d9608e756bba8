"""The interactions' Prometheus counter, registered by
``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class InteractionMetrics:
    """Interaction steps (handoff, claim, transfer, end, verify, token) by outcome."""

    steps: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> InteractionMetrics:
        """The counter, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            steps=Counter(
                "scv_interaction_steps",
                "IVR handoffs, claims, transfers, ends, knowledge checks and interaction-token "
                "checks, by step and outcome (ok or the refusal's code)",
                ["step", "outcome"],
                registry=registry,
            )
        )

    def observe(self, step: str, outcome: str) -> None:
        """Count one step; ``outcome`` is ``ok`` or a fixed refusal code (bounded labels)."""
        self.steps.labels(step, outcome).inc()
