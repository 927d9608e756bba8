"""What the response cache is to the code that reads through it: keys, lifetimes, the port.

A source's cached reads (``adapters/<source>/cached.py``) name each entry with a
``CacheKey`` and read through ``ReadThrough``; the source's ``LifetimeSection`` says how long
each of its resources stays fresh, then stale (``SCV_CACHE__<SOURCE>__<RESOURCE>__...``). The
cache itself, its tiers and its policy are the app's (``app.cache``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.models import Source

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class CacheKey:
    """One cached read: a source record's resource (and variant, such as a list length)."""

    source: Source
    #: The id the adapter method takes: billing customer, CRM contact, support user.
    record_id: str
    #: A resource name of the source's section in ``CacheSettings`` (``invoices``).
    resource: str
    variant: str = ""


class Lifetime(BaseModel):
    """How long one resource is served from the cache without asking its system."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fresh_seconds: float = Field(ge=0, description="served as HIT for this long after a fetch")
    stale_seconds: float = Field(
        ge=0,
        description="then served as STALE (and refreshed in the background) for this long",
    )


class LifetimeSection(BaseModel):
    """A source's lifetimes: one ``Lifetime`` field per resource, each with its own default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _unset_halves_keep_their_defaults(cls, data: Any) -> Any:
        # SCV_CACHE__BILLING__INVOICES__FRESH_SECONDS alone arrives as {"fresh_seconds": ..}:
        # the resource's default stale window must stay, not become a missing field.
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if isinstance(value, dict) and field is not None:
                default = field.default
                if isinstance(default, Lifetime):
                    merged[name] = {**default.model_dump(), **value}
        return merged


class ReadThrough(Protocol):
    """Reads through the response cache (``app.cache.response_cache.ResponseCache``)."""

    async def get(self, key: CacheKey, model: type[M], fetch: Callable[[], Awaitable[M]]) -> M:
        """``key``'s value: from the cache while fresh (or stale, refreshed behind), else
        ``fetch``ed and kept; raises what ``fetch`` raises when no stale value can serve."""
        ...

    async def get_many(
        self,
        keys: Sequence[CacheKey],
        model: type[M],
        fetch_many: Callable[[list[str]], Awaitable[Mapping[str, M]]],
    ) -> dict[str, M]:
        """The values of ``keys`` by record id: cached ones from the cache, the others in
        one ``fetch_many`` of their ids; records the system does not have are absent."""
        ...
