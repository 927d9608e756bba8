"""A tiny in-memory table: rows by primary key, lookup indexes and one sort order.

Every collection of the sandbox (customers, invoices, tickets, ...) is a ``Table``. Rows are
plain mutable dataclasses; changing a field that an index or the sort order reads must go
through ``Table.update`` so the indexes follow. The sort order is built lazily (sorting
100,000 rows costs nothing until somebody lists them) and kept up to date afterwards.

Sort keys are ``(int, primary key)`` tuples, ascending; the primary key as last element makes
every sort key unique, which is what lets cursors point between two rows.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", str, int)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Page(Generic[K]):
    """One page of sort keys, in the order they are shown, and what lies on either side."""

    keys: list[tuple[int, K]]
    #: Whether keys follow the page's last key, in display order.
    more_after: bool
    #: Whether keys precede the page's first key, in display order.
    more_before: bool


class Table(Generic[K, R]):
    """Rows keyed by id, with single-valued lookup indexes and a lazily built sort order."""

    def __init__(
        self,
        key: Callable[[R], K],
        order: Callable[[R], tuple[int, K]],
        indexes: Mapping[str, Callable[[R], Hashable | None]] | None = None,
    ) -> None:
        self._key: Callable[[R], K] = key
        self._order_of: Callable[[R], tuple[int, K]] = order
        self._index_of = dict(indexes or {})
        self.rows: dict[K, R] = {}
        # A bucket is one key, or a list once a second row shares the value: most values
        # (emails, phones) are unique, and a list per row would double the memory of a table.
        self._indexes: dict[str, dict[Hashable, K | list[K]]] = {
            name: {} for name in self._index_of
        }
        self._order: list[tuple[int, K]] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[R]:
        return iter(self.rows.values())

    def get(self, key: K) -> R | None:
        """The row with this primary key, or None."""
        return self.rows.get(key)

    def add(self, row: R) -> R:
        """Insert a new row; a duplicate primary key is a bug in the caller."""
        key = self._key(row)
        if key in self.rows:
            raise ValueError(f"duplicate key {key!r}")
        self.rows[key] = row
        self._index(row, key)
        if self._order is not None:
            bisect.insort(self._order, self._order_of(row))
        return row

    def remove(self, key: K) -> R | None:
        """Delete a row; returns it, or None if there was none."""
        row = self.rows.pop(key, None)
        if row is not None:
            self._unindex(row, key)
            if self._order is not None:
                self._order.remove(self._order_of(row))
        return row

    def update(self, key: K, change: Callable[[R], None]) -> R:
        """Apply ``change`` to a row in place, keeping indexes and order right."""
        row = self.rows[key]
        self._unindex(row, key)
        old_order = self._order_of(row)
        change(row)
        if self._key(row) != key:
            raise ValueError("the primary key of a row cannot change")
        self._index(row, key)
        new_order = self._order_of(row)
        if self._order is not None and new_order != old_order:
            self._order.remove(old_order)
            bisect.insort(self._order, new_order)
        return row

    def find(self, index: str, value: Hashable) -> list[R]:
        """The rows whose ``index`` value equals ``value``, in insertion order."""
        bucket = self._indexes[index].get(value)
        if bucket is None:
            return []
        if isinstance(bucket, list):
            return [self.rows[key] for key in bucket]
        return [self.rows[bucket]]

    def sort_key(self, row: R) -> tuple[int, K]:
        """Where ``row`` sits in the table's order."""
        return self._order_of(row)

    def order(self) -> list[tuple[int, K]]:
        """Every sort key, ascending (built on first use, then maintained)."""
        if self._order is None:
            self._order = sorted(self._order_of(row) for row in self.rows.values())
        return self._order

    def sorted_keys(self, rows: Iterable[R]) -> list[tuple[int, K]]:
        """The sort keys of some rows (a filtered subset), ascending."""
        return sorted(self._order_of(row) for row in rows)

    def _index(self, row: R, key: K) -> None:
        for name, value_of in self._index_of.items():
            value = value_of(row)
            if value is None:
                continue
            index = self._indexes[name]
            bucket = index.get(value)
            if bucket is None:
                index[value] = key
            elif isinstance(bucket, list):
                bucket.append(key)
            else:
                index[value] = [bucket, key]

    def _unindex(self, row: R, key: K) -> None:
        for name, value_of in self._index_of.items():
            value = value_of(row)
            if value is None:
                continue
            index = self._indexes[name]
            bucket = index.get(value)
            if isinstance(bucket, list):
                if key in bucket:
                    bucket.remove(key)
                if len(bucket) == 1:
                    index[value] = bucket[0]
            elif bucket == key:
                del index[value]


def page_after(
    order: Sequence[tuple[int, K]],
    after: tuple[int, K] | None,
    limit: int,
    *,
    descending: bool,
    keep: Callable[[tuple[int, K]], bool] | None = None,
) -> Page[K]:
    """The ``limit`` keys that follow ``after`` in display order (from the start if None).

    ``order`` is ascending; ``descending`` shows it newest first. ``after`` need not be in
    ``order`` (the row may have been deleted since the cursor was handed out). ``keep``
    filters keys while scanning, so a filtered page of a big table costs about one page.
    """
    if keep is not None:
        return _filtered_page_after(order, after, limit, descending, keep)
    if descending:
        end = len(order) if after is None else bisect.bisect_left(order, after)
        start = max(0, end - limit)
        return Page(list(reversed(order[start:end])), start > 0, end < len(order))
    start = 0 if after is None else bisect.bisect_right(order, after)
    end = min(len(order), start + limit)
    return Page(list(order[start:end]), end < len(order), start > 0)


def _filtered_page_after(
    order: Sequence[tuple[int, K]],
    after: tuple[int, K] | None,
    limit: int,
    descending: bool,
    keep: Callable[[tuple[int, K]], bool],
) -> Page[K]:
    if descending:
        first = len(order) - 1 if after is None else bisect.bisect_left(order, after) - 1
        forward: Iterable[int] = range(first, -1, -1)
        backward: Iterable[int] = range(first + 1, len(order))
    else:
        first = 0 if after is None else bisect.bisect_right(order, after)
        forward = range(first, len(order))
        backward = range(first - 1, -1, -1)
    keys: list[tuple[int, K]] = []
    for index in forward:
        if keep(order[index]):
            if len(keys) == limit:
                return Page(keys, True, any(keep(order[i]) for i in backward))
            keys.append(order[index])
    return Page(keys, False, any(keep(order[i]) for i in backward))


def page_before(
    order: Sequence[tuple[int, K]],
    before: tuple[int, K],
    limit: int,
    *,
    descending: bool,
) -> Page[K]:
    """The ``limit`` keys that precede ``before`` in display order, shown in display order."""
    if descending:
        start = bisect.bisect_right(order, before)
        end = min(len(order), start + limit)
        return Page(list(reversed(order[start:end])), start > 0, end < len(order))
    end = bisect.bisect_left(order, before)
    start = max(0, end - limit)
    return Page(list(order[start:end]), end < len(order), start > 0)
