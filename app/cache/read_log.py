"""What one request read through the response cache: for the whole-response cache.

A whole response may be kept only while every panel read behind it would still be served
fresh, and only until one of the records it read changes. So, while it is filled, the
whole-response cache (``app.whole_response``) sets a ``ReadLog`` in ``read_log``; every read
of ``ResponseCache`` in that request (in whatever task, which copies the context and so
shares the one log) notes the generation of the record it read under, how much longer the
value stays fresh, and whether it was served stale.
"""

from __future__ import annotations

import math
from contextvars import ContextVar


class ReadLog:
    """The records one request read, by generation key, and how long all stay fresh."""

    __slots__ = ("fresh_seconds", "generations", "stale")

    def __init__(self) -> None:
        #: Generation key of each record read -> the generation it was read under.
        self.generations: dict[str, int] = {}
        #: Seconds until the first value read stops being fresh.
        self.fresh_seconds = math.inf
        #: Whether any value was served stale (then the response must not be kept).
        self.stale = False

    def read(self, generation_key: str, generation: int) -> None:
        """A record read under ``generation`` (the first one noted stays: the oldest)."""
        self.generations.setdefault(generation_key, generation)

    def fresh_for(self, seconds: float) -> None:
        """A value read that stays fresh ``seconds`` more."""
        self.fresh_seconds = min(self.fresh_seconds, seconds)


#: The log of the request under way, when its response may be kept; None otherwise.
read_log: ContextVar[ReadLog | None] = ContextVar("cache_read_log", default=None)
