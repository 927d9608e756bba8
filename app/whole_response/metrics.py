"""The whole-response cache's counter, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

#: ``result`` of a lookup.
HIT = "hit"
MISS = "miss"
#: Found, but a record behind it (or a link) changed since: dropped, executed.
INVALIDATED = "invalidated"
#: Found, but its audit entries could not be written: executed instead (fails closed there).
AUDIT_FAILED = "audit_failed"
#: Executed and kept for the next caller with the same disclosure.
KEPT = "kept"
#: Not kept in this process, found in Redis (another instance kept it): then checked,
#: charged and audited as any other (and counted once more, as hit or invalidated).
SHARED = "shared"


@dataclass(frozen=True)
class WholeResponseMetrics:
    """Lookups and stores by result."""

    lookups: Counter
    #: The labelled series by result (six values): ``labels()`` takes a lock and builds a
    #: tuple, on every request the cache sees (``bench.calls --case lookup_by_phone``).
    _by_result: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def count(self, result: str) -> None:
        """Count one lookup or store by ``result`` (``HIT``, ``MISS``, ...)."""
        series = self._by_result.get(result)
        if series is None:
            series = self._by_result[result] = self.lookups.labels(result)
        series.inc()

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> WholeResponseMetrics:
        """The counter, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            lookups=Counter(
                "scv_whole_response_lookups",
                "Whole-response cache lookups and stores by result "
                "(hit, miss, invalidated, audit_failed, kept, shared)",
                ["result"],
                registry=registry,
            )
        )
