"""The audit trail's Prometheus metrics, registered by
``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram

from app.observability.series import Series

#: An audit batch is one INSERT: milliseconds, unless the database struggles.
AUDIT_WRITE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True)
class AuditMetrics:
    """Batches written or failed, entries written, and how long each batch took."""

    writes: Counter
    entries: Counter
    write_seconds: Histogram
    #: Their labelled series (``app.observability.series``): two lookups on every request
    #: that reads personal data.
    _writes: Series = field(init=False, repr=False, compare=False)
    _entries: Series = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: set once, as the dataclass's own __init__ would.
        object.__setattr__(self, "_writes", Series(self.writes))
        object.__setattr__(self, "_entries", Series(self.entries))

    def count_write(self, outcome: str) -> None:
        """Count one batch written (``ok``) or not (``failed``)."""
        self._writes(outcome).inc()

    def count_entries(self, kind: str, count: int) -> None:
        """Count ``count`` entries of ``kind`` written."""
        self._entries(kind).inc(count)

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> AuditMetrics:
        """The metrics, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            writes=Counter(
                "scv_audit_writes",
                "Audit batches (one per request carrying customer data) by outcome: ok, or "
                "failed (personal fields were then withheld with AUDIT_UNAVAILABLE)",
                ["outcome"],
                registry=registry,
            ),
            entries=Counter(
                "scv_audit_entries",
                "Audit entries written, by kind (READ, PURPOSE, HANDOFF, CLAIM, ...)",
                ["kind"],
                registry=registry,
            ),
            write_seconds=Histogram(
                "scv_audit_write_duration_seconds",
                "Time taken to write one audit batch durably, failed ones included",
                buckets=AUDIT_WRITE_BUCKETS,
                registry=registry,
            ),
        )
