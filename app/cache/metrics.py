"""The response cache's Prometheus counters, registered by
``app.wiring.metrics.GatewayMetrics``."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

#: ``result`` of a cache lookup: what the caller got and where from.
HIT = "hit"
MISS = "miss"
STALE = "stale"
#: Served stale because the system failed (stale-if-error), not because it is refreshing.
STALE_IF_ERROR = "stale_if_error"
#: Served stale because the system had not answered within the role's budget (stale-if-slow).
STALE_IF_SLOW = "stale_if_slow"
#: A remembered "no such record", answered without asking the system.
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class CacheMetrics:
    """Lookups by source, resource and result; Redis errors; unreadable entries; refreshes."""

    lookups: Counter
    redis_errors: Counter
    unreadable_entries: Counter
    refreshes: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> CacheMetrics:
        """The counters, in ``registry`` (None: the multi-process directory only)."""
        return cls(
            lookups=Counter(
                "scv_cache_lookups",
                "Response cache lookups by source, resource and result "
                "(hit, miss, stale, stale_if_error, stale_if_slow, not_found)",
                ["source", "resource", "result"],
                registry=registry,
            ),
            redis_errors=Counter(
                "scv_cache_redis_errors",
                "Redis commands of the response cache that failed or timed out, by operation",
                ["operation"],
                registry=registry,
            ),
            unreadable_entries=Counter(
                "scv_cache_unreadable_entries",
                "Cached values that could not be read and were treated as a miss, by reason "
                "(decryption: wrong key or tampered; format: not an entry of this version)",
                ["reason"],
                registry=registry,
            ),
            refreshes=Counter(
                "scv_cache_background_refreshes",
                "Background refreshes of stale entries by source, resource and outcome "
                "(ok, skipped when another process holds the refresh, or the error code)",
                ["source", "resource", "outcome"],
                registry=registry,
            ),
        )
