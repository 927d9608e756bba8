"""What names a cached read, and how long the cache settings let each kind of entry live.

Keys carry no personal data: the record id is hashed (SHA-256) into the key, and nothing
else but fixed resource names and numbers (an invoice list's length) goes in.
"""

from __future__ import annotations

import functools
import hashlib

from adapters.registry import cached
from app.cache.settings import CacheSettings
from app.cache.tiers import KEY_PREFIX
from kernel.cache import CacheKey, Lifetime, LifetimeSection
from kernel.models import Source

#: Source records whose key prefix is remembered (``record_prefix``).
REMEMBERED_PREFIXES = 8192


@functools.lru_cache(maxsize=REMEMBERED_PREFIXES)
def record_prefix(source: Source, record_id: str, tenant: str = "") -> str:
    """The prefix of every key of one source record of ``tenant``'s account; the id
    appears only hashed.

    Two tenants' accounts of a system are two systems whose record ids may coincide
    (``cus_1`` in each), so a tenant's keys are its own (``...:t=globex:billing:...``); a
    cache no tenant was named for keeps the prefix it had before tenants.

    Remembered for the records read lately: every read of the cache needs it, and hashing
    costs more than the in-process lookup it leads to.
    """
    digest = hashlib.sha256(f"{source.value}\x00{record_id}".encode()).hexdigest()[:32]
    namespace = f"t={tenant}:" if tenant else ""
    return f"{KEY_PREFIX}:{namespace}{source.value.lower()}:{digest}:"


def entry_lifetime(settings: CacheSettings, key: CacheKey) -> Lifetime:
    """How long ``key``'s entry is fresh, then stale, by its source's section of ``settings``."""
    lifetime = getattr(settings.lifetimes(key.source), key.resource, None)
    if not isinstance(lifetime, Lifetime):
        raise ValueError(f"no cache lifetime for {key.source.value} {key.resource}")
    return lifetime


def longest_entry_ttl(settings: CacheSettings) -> float:
    """The longest any entry (a value, or a remembered not-found) is kept."""
    spans = [
        value.fresh_seconds + value.stale_seconds
        for spec in cached()
        for value in (settings.lifetimes(spec.source) or LifetimeSection()).__dict__.values()
        if isinstance(value, Lifetime)
    ]
    return max([*spans, settings.max_stale_if_error_seconds, settings.not_found_seconds])
