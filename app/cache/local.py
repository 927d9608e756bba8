"""A bounded, short-lived in-process map: the local tier in front of Redis, and the
bounded memory of everything else that keeps a little per process (kept answers, budgets,
persisted queries, live linking's recent lookups)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class LocalTier:
    """A bounded, short-lived in-process map in front of Redis (least recently used goes).

    Hand-written because aiocache's memory backend has no size bound, and this tier must
    have one: it holds whatever the process read lately, for ``lifetime`` seconds at most.
    """

    def __init__(
        self, max_entries: int, lifetime: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_entries = max_entries
        self._lifetime = lifetime
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, object]] = OrderedDict()

    def get(self, key: str) -> object | None:
        """The value under ``key`` if it is younger than the lifetime, else None."""
        item = self._items.get(key)
        if item is None:
            return None
        expires_at, value = item
        if expires_at <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    def put(self, key: str, value: object, ttl: float | None = None) -> None:
        """Keep ``value`` for the lifetime (or ``ttl``, if shorter), evicting the oldest."""
        lifetime = self._lifetime if ttl is None else min(ttl, self._lifetime)
        self._items[key] = (self._clock() + lifetime, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max_entries:
            self._items.popitem(last=False)

    def drop_prefix(self, prefix: str) -> None:
        """Forget every key starting with ``prefix`` (a scan: the tier is small)."""
        for key in [key for key in self._items if key.startswith(prefix)]:
            del self._items[key]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
