"""What the resilience layer reports (to metrics) and the states it reports, shared by its parts."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from kernel.models import Source

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class BreakerState(enum.StrEnum):
    """Where a circuit breaker is: calling the source, refusing to, or trying it again."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class ResilienceEvents(Protocol):
    """Told of what the resilience layer does, for metrics (``GatewayMetrics`` is one)."""

    def retried(self, source: Source, error_code: str) -> None:
        """A call to ``source`` failed with ``error_code`` and is about to be retried."""
        ...

    def breaker_changed(self, source: Source, old: str, new: str) -> None:
        """The breaker of ``source`` went from state ``old`` to ``new``."""
        ...

    def bulkhead_rejected(self, source: Source) -> None:
        """A call to ``source`` found no free bulkhead slot in time."""
        ...


@dataclass(frozen=True, slots=True)
class SharingSnapshot:
    """The analysts' lane and the call rate of one source now (``/metrics``, ``/readyz``)."""

    #: The analysts' adaptive limit, and their calls waiting for it.
    limit: int
    queued: int
    #: Latency over its baseline, as the limit last read it: the agents' to the source, and
    #: the analysts' own (the source's).
    agents_ratio: float
    source_ratio: float
    #: Analysts' calls that waited for the lane, and their waits' total seconds.
    waits: int
    wait_seconds: float
    #: Calls refused UPSTREAM_BUSY by (traffic class, reason): ``queue`` (the analysts' wait
    #: would pass the deadline) or ``rate`` (the source's call rate is spent).
    refusals: dict[tuple[str, str], int]
