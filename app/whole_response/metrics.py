"""The whole-response cache's counter, registered by ``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter

from app.observability.series import Series

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
    #: Its labelled series by result (``app.observability.series``): on every request the
    #: cache sees.
    _by_result: Series = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: set once, as the dataclass's own __init__ would.
        object.__setattr__(self, "_by_result", Series(self.lookups))

    def count(self, result: str) -> None:
        """Count one lookup or store by ``result`` (``HIT``, ``MISS``, ...)."""
        self._by_result(result).inc()

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
