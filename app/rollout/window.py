"""Each source's recent calls and shadow comparisons, as the rollback criteria read them.

Kept in process memory, a bounded deque per source: the criteria need the last few minutes
of this process's own traffic, not history (the daily figures are the KPIs' own, in
PostgreSQL). Written here rather than read back from Prometheus: a gateway must roll back
without a Prometheus server, and the registry keeps no time window.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kernel.models import Source

#: A call cancelled by the gateway (a deadline, a sibling's failure): no sign of the source.
ABORTED = "ABORTED"
CONTRACT = "UPSTREAM_CONTRACT"
#: The codes of a source that could not be reached or did not answer in time (the kernel's
#: ``UpstreamUnavailable`` family): what availability counts against.
UNAVAILABLE = frozenset(
    {
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_TIMEOUT",
        "UPSTREAM_RATE_LIMITED",
        "CIRCUIT_OPEN",
        "UPSTREAM_BUSY",
    }
)
#: The most events kept per source; the oldest go first.
MAX_EVENTS = 20_000


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """One source's figures over a window."""

    calls: int
    errors: int
    contract_errors: int
    latency_p99_seconds: float | None
    comparisons: int
    disagreements: int
    unavailable: int = 0

    @property
    def availability(self) -> float | None:
        """The share of calls the source answered (None without calls)."""
        return 1 - self.unavailable / self.calls if self.calls else None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def disagreement_rate(self) -> float:
        return self.disagreements / self.comparisons if self.comparisons else 0.0


class SourceWindows:
    """Calls (time taken, error code) and shadow comparisons per source, time-stamped."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[Source, deque[tuple[float, float, str | None]]] = {}
        self._comparisons: dict[Source, deque[tuple[float, bool]]] = {}

    def observe_call(self, source: Source, seconds: float, error_code: str | None) -> None:
        """One upstream call (the middleware's observer calls this for every one)."""
        if error_code == ABORTED:
            return
        calls = self._calls.setdefault(source, deque(maxlen=MAX_EVENTS))
        calls.append((self._clock(), seconds, error_code))

    def observe_comparison(self, source: Source, agreed: bool) -> None:
        """One shadow comparison of ``source``."""
        found = self._comparisons.setdefault(source, deque(maxlen=MAX_EVENTS))
        found.append((self._clock(), agreed))

    def forget(self, source: Source) -> None:
        """Start ``source``'s figures afresh (after it moved: the new phase earns its own)."""
        self._calls.pop(source, None)
        self._comparisons.pop(source, None)

    def figures(self, source: Source, window_seconds: float) -> WindowFigures:
        """``source``'s figures over the last ``window_seconds``."""
        since = self._clock() - window_seconds
        calls = [call for call in self._calls.get(source, ()) if call[0] >= since]
        comparisons = [c for c in self._comparisons.get(source, ()) if c[0] >= since]
        return WindowFigures(
            calls=len(calls),
            errors=sum(1 for _, _, code in calls if code is not None),
            contract_errors=sum(1 for _, _, code in calls if code == CONTRACT),
            latency_p99_seconds=p99([seconds for _, seconds, _ in calls]),
            comparisons=len(comparisons),
            disagreements=sum(1 for _, agreed in comparisons if not agreed),
            unavailable=sum(1 for _, _, code in calls if code in UNAVAILABLE),
        )


def p99(values: list[float]) -> float | None:
    """The 99th percentile by the nearest-rank method (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
