"""One kept answer: its data and what serving it again needs (whether it is still true,
its panel meta, its audit entries, its cost)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernel.access import AuditEntry

MetaPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Kept:
    """One kept answer."""

    data: bytes
    #: ``time.time()`` when it was built.
    built_at: float
    #: The response cache's generation key of every record read -> the generation read.
    generations: tuple[tuple[str, int], ...]
    links_generation: int
    #: (path, field, value when built) of every panel meta field to make true again.
    meta: tuple[tuple[MetaPath, str, Any], ...]
    #: Its execution's audit entries, as that caller's.
    audit: tuple[AuditEntry, ...]
    #: What its execution cost (``GuardCost``): each reader's budget is charged as much.
    cost: int
