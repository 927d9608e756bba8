"""Identity quality in /metrics: conflicts by field and possible duplicates, from the store.

Like ``SyncRunCollector``, the values are read from the store by the scrape handler (a
collector cannot await) and reported as gauges: they describe the store, whichever process
wrote it. Counting them scans the identity tables (about a second each at 100,000 customers), so
the handler reads them at most once per ``refresh_seconds`` and serves the last reading in
between; Prometheus scrapes every 15 s or so and these numbers move with syncs, not seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.store.identity_view import IdentityViewStore
from kernel.identity_evidence import CONTACT_FIELDS

#: Shortest time between two readings of the counts from the store.
DEFAULT_REFRESH_SECONDS = 60.0
#: Longest a scrape waits for a reading (Prometheus's own scrape timeout is 10 s by default).
IDENTITY_COUNTS_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class IdentityQualityReading:
    """One reading of the counts."""

    conflicts: dict[str, int]
    duplicate_candidates: int


class IdentityQualityCollector(Collector):
    """``scv_identity_conflicts{field}`` and ``scv_identity_duplicate_candidates``."""

    def __init__(
        self,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reading: IdentityQualityReading | None = None
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._read_at: float | None = None

    async def refresh(self, view: IdentityViewStore) -> None:
        """Read the counts from the store, unless the last reading is recent enough.

        A failure leaves the last reading in place (and raises, for the caller to log).
        """
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._refresh_seconds:
            return
        conflicts, duplicates = await asyncio.gather(
            view.conflict_counts(), view.duplicate_pair_count()
        )
        self.reading = IdentityQualityReading(conflicts, duplicates)
        self._read_at = now

    def collect(self) -> Iterator[Metric]:
        """Nothing until the first reading: a zero would claim the store has no conflicts."""
        reading = self.reading
        if reading is None:
            return
        conflicts = GaugeMetricFamily(
            "scv_identity_conflicts",
            "Customers whose linked records disagree on a field after normalisation",
            labels=["field"],
        )
        for field in CONTACT_FIELDS:
            conflicts.add_metric([field], reading.conflicts.get(field, 0))
        yield conflicts
        yield GaugeMetricFamily(
            "scv_identity_duplicate_candidates",
            "Pairs of customers that may be one person (shared email or phone, or named "
            "together by a linking rule), not decided otherwise by a supervisor",
            reading.duplicate_candidates,
        )
