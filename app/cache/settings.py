"""The response cache's settings section (``SCV_CACHE__...``): tiers, lifetimes, Redis, keys.

Each cached source's lifetimes are its own (``adapters/<source>/cached.py``); this section
holds one per entry of the source registry that has a cache policy.

Lifetimes are per source and resource, because they change at different speeds and matter
differently during a call: a balance must be recent, a card on file hardly ever changes.
Webhooks invalidate a record's entries when it changes, so fresh lifetimes can be longer
than they could be if the cache were the only defence against old data.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, create_model, field_validator

from adapters.registry import cached
from app.cache.stale_if_slow import StaleIfSlowSettings
from kernel.cache import LifetimeSection
from kernel.models import Source

#: URL schemes redis-py connects to: TCP, TLS, and a local unix socket.
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
#: AES-GCM key sizes in bytes (AES-128, AES-192, AES-256).
AES_KEY_SIZES = frozenset({16, 24, 32})


class CacheSettingsBase(BaseModel):
    """The response cache's own settings; ``CacheSettings`` adds each cached source's
    lifetimes (its registry entry's ``cache.lifetimes``, ``SCV_CACHE__<SOURCE>__...``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="off: every read goes to its system")
    url: SecretStr | None = Field(
        default=None,
        description=(
            "redis://, rediss:// or unix:// URL of a Redis shared by every gateway process "
            "(secret: it may hold a password); unset: an in-process cache per process"
        ),
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="base64 of a 16, 24 or 32 byte key: values in Redis are AES-GCM encrypted",
    )
    memory_max_entries: int = Field(
        default=10_000,
        ge=1,
        description=(
            "entries of the in-process cache when there is no Redis (least recently used "
            "goes first; a few KB each)"
        ),
    )
    local_max_entries: int = Field(
        default=2000, ge=1, description="entries of the in-process tier in front of Redis"
    )
    local_ttl_seconds: float = Field(
        default=2.0,
        gt=0,
        description="longest an entry stays in the in-process tier in front of Redis",
    )
    not_found_seconds: float = Field(
        default=30.0, ge=0, description="how long a record a system does not have is remembered"
    )
    max_stale_if_error_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "when a system fails, a cached value up to this old is served (STALE) instead of "
            "an error; also how long entries are kept"
        ),
    )
    stale_if_slow: StaleIfSlowSettings = Field(
        default_factory=StaleIfSlowSettings,
        description=(
            "per role, longest wait for a slow system when a value young enough for "
            "stale-if-error is cached (app.cache.stale_if_slow)"
        ),
    )
    redis_connect_timeout_seconds: float = Field(
        default=0.25, gt=0, description="longest wait to connect to Redis"
    )
    redis_timeout_seconds: float = Field(
        default=0.25, gt=0, description="longest wait for one Redis command"
    )
    redis_retry_seconds: float = Field(
        default=2.0,
        ge=0,
        description="after a Redis failure, Redis is left alone (in-process tier only) this long",
    )

    @field_validator("url")
    @classmethod
    def _a_redis_url(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and urlsplit(url.get_secret_value()).scheme not in REDIS_SCHEMES:
            # The URL may carry a password: name the schemes, never echo the value.
            raise ValueError(f"must be a URL with scheme {', '.join(sorted(REDIS_SCHEMES))}")
        return url

    @field_validator("encryption_key")
    @classmethod
    def _an_aes_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None:
            encryption_key_bytes(key)
        return key

    def encryption_key_bytes(self) -> bytes | None:
        """The AES key, decoded; None when values are stored in clear."""
        return None if self.encryption_key is None else encryption_key_bytes(self.encryption_key)

    def lifetimes(self, source: Source) -> LifetimeSection | None:
        """The lifetimes of ``source``'s cached resources; None for a source never cached."""
        section = getattr(self, source.value.lower(), None)
        return section if isinstance(section, LifetimeSection) else None


if TYPE_CHECKING:
    CacheSettings = CacheSettingsBase
else:
    CacheSettings = create_model(
        "CacheSettings",
        __base__=CacheSettingsBase,
        __doc__="The response cache in front of the cached sources (never the IVR: per call).",
        **{
            spec.name: (
                spec.cache.lifetimes,
                Field(default_factory=spec.cache.lifetimes, description=f"{spec.name} lifetimes"),
            )
            for spec in cached()
        },
    )


def encryption_key_bytes(key: SecretStr) -> bytes:
    """``key`` decoded from base64 (standard or URL-safe); ``ValueError`` if it is no AES key."""
    text = key.get_secret_value().strip()
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64 of a 16, 24 or 32 byte key") from None
    if len(raw) not in AES_KEY_SIZES:
        raise ValueError("must be base64 of a 16, 24 or 32 byte key")
    return raw
