"""Agents' latency to each source, as the analysts' lanes read it: how much agents feel now.

Every agents' call to a source that answers is timed (send to parsed answer, so a busy
event loop or a busy machine shows as well as a slow system); its recent level over its
baseline (``app.resilience.adaptive_limit.LatencyTrend``) is the *agents' ratio*, the signal
that shrinks the analysts' limit of that source when it passes the tolerance.

In one process serving everyone (``SCV_AUDIENCE=all``) the analysts' lanes read the ratio
where it is measured. When ``scv serve`` runs agents and analysts in processes of their own
(``SCV_ANALYST_PORT``), the agents' processes publish it: each writes its ratio per source,
with the time, into a small file of its own under ``SCV_FAIR_SHARE_DIR`` (at most every
``PUBLISH_SECONDS``), and the analysts' processes read the largest fresh one. A file per
process and per source, rewritten in place with one ``pwrite`` of 16 bytes, costs a
system call a tenth of a second per source, needs no lock, and a process that stops simply
stops being fresh. So the gateway instance shares, not every instance: each instance's
analysts give way to its own agents, which is where their CPU and connections meet.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from pathlib import Path

from app.resilience.adaptive_limit import LatencyTrend
from app.resilience.events import Clock
from kernel.models import Source

__all__ = ["AgentLatency"]

#: How often a process rewrites its ratio of one source, and how long a reader trusts its
#: last read of the directory.
PUBLISH_SECONDS = 0.1
#: Weight of each agent's call in the recent level: some 20 calls' worth, a fifth of a second
#: at the benchmark's 100 calls a second, so one slow call among many is no signal.
SMOOTHING = 0.05
#: ratio, wall-clock time of the sample.
_RECORD = struct.Struct("<dd")


class AgentLatency:
    """Agents' latency ratio per source, measured here and, with a directory, shared.

    ``publish`` off: this process only reads the directory (the analysts' processes, whose
    own interactive calls, the read model's refresh, are no agents').
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        publish: bool = True,
        baseline_window_seconds: float = 60.0,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self._directory = directory
        self._publishes = publish and directory is not None
        self._window = baseline_window_seconds
        self._clock = clock
        self._wall = wall_clock
        self._trends: dict[Source, LatencyTrend] = {}
        self._last_sample: dict[Source, float] = {}
        self._published: dict[Source, float] = {}
        self._files: dict[Source, int] = {}
        self._read_at: dict[Source, float] = {}
        self._read: dict[Source, tuple[float, float]] = {}

    def observe(self, source: Source, seconds: float) -> None:
        """An agent's call to ``source`` answered in ``seconds``."""
        now = self._clock()
        trend = self._trends.get(source)
        if trend is None:
            trend = self._trends[source] = LatencyTrend(self._window, smoothing=SMOOTHING)
        trend.observe(now, seconds)
        self._last_sample[source] = now
        if self._publishes and now - self._published.get(source, -1e9) >= PUBLISH_SECONDS:
            self._published[source] = now
            self._publish(source, trend.ratio)

    def ratio(self, source: Source, quiet_seconds: float) -> float:
        """The agents' latency to ``source`` over its baseline; 1.0 when agents are quiet."""
        now = self._clock()
        local = 1.0
        last = self._last_sample.get(source)
        if last is not None and now - last <= quiet_seconds:
            local = self._trends[source].ratio
        if self._directory is None:
            return local
        return max(local, self._published_ratio(source, quiet_seconds))

    def close(self) -> None:
        """Close this process's files (they are left for readers to find stale)."""
        for descriptor in self._files.values():
            os.close(descriptor)
        self._files.clear()

    def _path(self, source: Source, pid: int) -> Path:
        assert self._directory is not None
        return self._directory / f"agents-{source.value}-{pid}.bin"

    def _publish(self, source: Source, ratio: float) -> None:
        try:
            descriptor = self._files.get(source)
            if descriptor is None:
                descriptor = os.open(self._path(source, os.getpid()), os.O_RDWR | os.O_CREAT, 0o600)
                self._files[source] = descriptor
            os.pwrite(descriptor, _RECORD.pack(ratio, self._wall()), 0)
        except OSError:
            # A signal that cannot be shared leaves analysts to their own latency: no call
            # of an agent may fail for it.
            return

    def _published_ratio(self, source: Source, quiet_seconds: float) -> float:
        now = self._clock()
        if now - self._read_at.get(source, -1e9) < PUBLISH_SECONDS:
            ratio, at = self._read.get(source, (1.0, 0.0))
            return ratio if self._wall() - at <= quiet_seconds else 1.0
        self._read_at[source] = now
        assert self._directory is not None
        freshest = (1.0, 0.0)
        wall = self._wall()
        for path in self._directory.glob(f"agents-{source.value}-*.bin"):
            with contextlib.suppress(OSError, struct.error):
                ratio, at = _RECORD.unpack(path.read_bytes()[: _RECORD.size])
                if wall - at <= quiet_seconds and ratio > freshest[0]:
                    freshest = (ratio, at)
        self._read[source] = freshest
        return freshest[0] if freshest[1] else 1.0
