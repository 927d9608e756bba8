"""The response cache's settings section (``SCV_CACHE__...``): tiers, lifetimes, Redis, keys.

Lifetimes are per source and resource, because they change at different speeds and matter
differently during a call: a balance must be recent, a card on file hardly ever changes.
Webhooks invalidate a record's entries when it changes, so fresh lifetimes can be longer
than they could be if the cache were the only defence against old data.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

#: URL schemes redis-py connects to: TCP, TLS, and a local unix socket.
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
#: AES-GCM key sizes in bytes (AES-128, AES-192, AES-256).
AES_KEY_SIZES = frozenset({16, 24, 32})


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


class BillingLifetimes(LifetimeSection):
    """Billing resources, keyed by billing customer id."""

    customer: Lifetime = Field(
        default=Lifetime(fresh_seconds=30, stale_seconds=300),
        description="the customer record: balance and delinquency",
    )
    subscriptions: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600), description="subscriptions"
    )
    invoices: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600),
        description="invoice lists (one entry per `first` asked for)",
    )
    payment_cards: Lifetime = Field(
        default=Lifetime(fresh_seconds=300, stale_seconds=3600), description="cards on file"
    )


class CrmLifetimes(LifetimeSection):
    """CRM resources, keyed by CRM contact id."""

    contact: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600),
        description="a contact: name, contact details, address",
    )


class SupportLifetimes(LifetimeSection):
    """Support resources, keyed by support user id."""

    tickets: Lifetime = Field(
        default=Lifetime(fresh_seconds=15, stale_seconds=300),
        description="the tickets a user requested",
    )


class CacheSettings(BaseModel):
    """The response cache in front of billing, CRM and support (never the IVR: per call)."""

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
    billing: BillingLifetimes = Field(
        default_factory=BillingLifetimes, description="billing lifetimes"
    )
    crm: CrmLifetimes = Field(default_factory=CrmLifetimes, description="CRM lifetimes")
    support: SupportLifetimes = Field(
        default_factory=SupportLifetimes, description="support lifetimes"
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
