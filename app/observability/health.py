"""Each source's recent health as this process saw it, for /readyz: outcomes over a window."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Clock = Callable[[], float]


class SourceHealth:
    """One source's recent upstream outcomes: last success, error rate over a window.

    Outcomes are counted in fixed buckets (``bucket_seconds`` wide) rather than kept one by
    one, so memory stays a few dozen entries however busy the source is.
    """

    def __init__(
        self,
        window_seconds: float = 300.0,
        bucket_seconds: float = 10.0,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._window = window_seconds
        self._bucket = bucket_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        # [bucket start, requests, errors], oldest first.
        self._buckets: deque[list[float]] = deque()
        self.last_success: datetime | None = None
        self.last_error: datetime | None = None

    def record(self, ok: bool) -> None:
        """Count one request's outcome now."""
        now = self._clock()
        start = now - now % self._bucket
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0, 0])
        self._prune(now)
        bucket = self._buckets[-1]
        bucket[1] += 1
        if ok:
            self.last_success = self._wall_clock()
        else:
            bucket[2] += 1
            self.last_error = self._wall_clock()

    def counts(self) -> tuple[int, int]:
        """Requests and errors within the window."""
        self._prune(self._clock())
        return (
            int(sum(bucket[1] for bucket in self._buckets)),
            int(sum(bucket[2] for bucket in self._buckets)),
        )

    def error_rate(self) -> float | None:
        """Errors / requests within the window; None when there were no requests."""
        requests, errors = self.counts()
        return errors / requests if requests else None

    def snapshot(self) -> dict[str, Any]:
        """The state ``/readyz`` shows for the source."""
        requests, errors = self.counts()
        return {
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_error": self.last_error.isoformat() if self.last_error else None,
            "requests_5m": requests,
            "errors_5m": errors,
            "error_rate_5m": round(errors / requests, 4) if requests else None,
        }

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] + self._bucket <= now - self._window:
            self._buckets.popleft()
