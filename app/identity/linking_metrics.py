"""Live linking's and people's decisions' Prometheus counters
(``app.wiring.metrics.GatewayMetrics``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter

LookupKind = Literal["phone", "email", "source_id"]
#: found: linked and answered; miss: nothing anywhere (remembered); remembered_miss: answered
#: from the remembered miss, no search; incomplete: a system failed and nothing was found.
LookupOutcome = Literal["found", "miss", "remembered_miss", "incomplete"]


@dataclass(frozen=True)
class LinkingMetrics:
    """Live lookups by kind and outcome; supervisors' decisions by decision and outcome."""

    live_lookups: Counter
    decisions: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> LinkingMetrics:
        """The counters, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            live_lookups=Counter(
                "scv_identity_live_lookups",
                "Lookups the store could not answer, searched live in the systems, by kind "
                "(phone, email, source_id) and outcome (found, miss, remembered_miss, incomplete)",
                ["kind", "outcome"],
                registry=registry,
            ),
            decisions=Counter(
                "scv_identity_decisions",
                "Supervisors' linkIdentity / unlinkIdentity decisions, by decision and outcome "
                "(ok or the refusal's code)",
                ["decision", "outcome"],
                registry=registry,
            ),
        )

    def lookup(self, kind: LookupKind, outcome: LookupOutcome) -> None:
        """Count one live lookup."""
        self.live_lookups.labels(kind, outcome).inc()

    def decision(self, decision: str, outcome: str) -> None:
        """Count one decision; ``outcome`` is ``ok`` or a fixed refusal code (bounded labels)."""
        self.decisions.labels(decision, outcome).inc()
