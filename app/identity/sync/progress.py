"""``scv sync``'s progress line: records read per source so far, and the rate of each.

On a terminal the line is rewritten in place (at most a few times a second); when the
output is a file or a pipe (a cron job's log, CI) a plain line is written every
``interval`` seconds instead, so the log shows progress without a line per page. The line
names sources and counts only: never a record, so no personal data can reach a log.

Hand-written rather than a progress-bar library: the sync does not know its totals in
advance (an incremental run reads what changed), and one formatted line is all it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from adapters.registry import linked
from kernel.models import Source

__all__ = ["ProgressLine"]

_SOURCES = tuple(spec.source for spec in linked())
#: On a terminal, no more redraws than this many a second: a page is read every few ms.
_TERMINAL_REFRESH_SECONDS = 0.2
#: Moves to the start of the line and clears it, so a shorter line leaves nothing behind.
_REWRITE = "\r\x1b[K"


class ProgressLine:
    """A ``ProgressCallback`` for ``sync_identities`` that writes the progress to ``stream``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interval_seconds: float = 5.0,
        is_terminal: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._terminal = stream.isatty() if is_terminal is None else is_terminal
        self._interval = _TERMINAL_REFRESH_SECONDS if self._terminal else interval_seconds
        self._clock = clock
        self._started = clock()
        self._last_update = self._started
        self._last_written: float | None = None
        self._seen: dict[Source, int] = {}
        self._began: dict[Source, float] = {}
        self._latest: dict[Source, float] = {}

    def __call__(self, source: Source, seen: int) -> None:
        """After each page: ``seen`` records of ``source`` so far."""
        now = self._clock()
        # A source's pass begins when the one before it ended (its last page).
        self._began.setdefault(source, self._last_update)
        self._seen[source] = seen
        self._latest[source] = now
        self._last_update = now
        if self._last_written is None or now - self._last_written >= self._interval:
            self._write(now)

    def finish(self) -> None:
        """The final figures, and the end of the line (call once, when the sync ends)."""
        now = self._clock()
        self._write(now)
        if self._terminal:
            self._stream.write("\n")
            self._stream.flush()

    def render(self, now: float) -> str:
        """The line: each source's records so far and rate, then the time elapsed."""
        parts = []
        for source in _SOURCES:
            seen = self._seen.get(source)
            if seen is None:
                parts.append(f"{source.value} -")
                continue
            elapsed = self._latest[source] - self._began[source]
            rate = f"{seen / elapsed:,.0f}/s" if elapsed > 0 else "-/s"
            parts.append(f"{source.value} {seen:,} ({rate})")
        return f"sync {now - self._started:6.1f} s  " + "  ".join(parts)

    def _write(self, now: float) -> None:
        self._last_written = now
        line = self.render(now)
        if self._terminal:
            self._stream.write(_REWRITE + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
