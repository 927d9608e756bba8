"""The rollout's Prometheus metrics, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True)
class RolloutMetrics:
    """Shadow comparisons by outcome and reason, and mode changes."""

    shadow_comparisons: Counter
    mode_changes: Counter
    rollbacks: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> RolloutMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            shadow_comparisons=Counter(
                "scv_rollout_shadow_comparisons",
                "Shadow reads of a source compared with the system of record, by source, "
                "outcome (agree, disagree, skipped) and reason (match, no_record, "
                "other_record, or the error code)",
                ["source", "outcome", "reason"],
                registry=registry,
            ),
            mode_changes=Counter(
                "scv_rollout_mode_changes",
                "Rollout mode changes, by source, the mode moved to, and by whom "
                "(supervisor, or rollback: the rollback criteria)",
                ["source", "mode", "by"],
                registry=registry,
            ),
            rollbacks=Counter(
                "scv_rollout_rollbacks",
                "Sources moved back one phase by their rollback criteria, by source, the mode "
                "left and the mode entered, and the first criterion breached",
                ["source", "from_mode", "to_mode", "criterion"],
                registry=registry,
            ),
        )
