"""One kept answer: its data and what serving it again needs (whether it is still true,
its panel meta, its audit entries, its cost), and the bytes it is shared as through Redis.

The bytes are orjson's (the tier seals them: AES-GCM when the cache has a key, as the panel
entries are); a value that cannot be read back is no answer, never an error.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kernel.access import AuditEntry
from kernel.identity import CustomerId

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


def to_bytes(kept: Kept, expires_at: float) -> bytes:
    """``kept`` as shared, with when it stops being served (epoch seconds)."""
    return orjson.dumps(
        {
            "data": orjson.Fragment(kept.data),
            "built_at": kept.built_at,
            "expires_at": expires_at,
            "generations": kept.generations,
            "links_generation": kept.links_generation,
            "meta": kept.meta,
            "audit": [dataclasses.asdict(entry) for entry in kept.audit],
            "cost": kept.cost,
        }
    )


def from_bytes(blob: bytes) -> tuple[Kept, float] | None:
    """The kept answer in ``blob`` and when it stops being served; None if unreadable."""
    try:
        raw = orjson.loads(blob)
        kept = Kept(
            data=orjson.dumps(raw["data"]),
            built_at=float(raw["built_at"]),
            generations=tuple((str(key), int(gen)) for key, gen in raw["generations"]),
            links_generation=int(raw["links_generation"]),
            meta=tuple((tuple(path), str(name), value) for path, name, value in raw["meta"]),
            audit=tuple(_audit_entry(entry) for entry in raw["audit"]),
            cost=int(raw["cost"]),
        )
        return kept, float(raw["expires_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _audit_entry(raw: dict[str, Any]) -> AuditEntry:
    customer = raw.get("customer_id")
    at = raw.get("at")
    return AuditEntry(
        **{
            **raw,
            "customer_id": None if customer is None else CustomerId(customer),
            "fields": tuple(raw["fields"]),
            "at": None if at is None else datetime.fromisoformat(at),
        }
    )
