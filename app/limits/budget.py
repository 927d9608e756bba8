"""Each principal's cost budget per minute: a token bucket, in-process or shared through Redis.

A bucket holds at most a minute's budget (``capacity``) and refills continuously at
``capacity / 60`` per second; a query takes its cost out, or is refused with the seconds
until enough has refilled.

Hand-written rather than taken from a library: the rate limiters on PyPI (``limits``,
``aiolimiter``, ``pyrate-limiter``) count requests or hold one shared bucket, while this one
takes a variable amount (the query's cost) out of a bucket per principal, needs an injected
clock for tests, and must run as one atomic step in Redis. With Redis (``SCV_CACHE__URL``)
the step is a Lua script (Redis runs a script atomically, so two workers cannot both spend
the last tokens); the time is the gateway's, passed in, so that tests can drive it. When
Redis does not answer, each process falls back to its own buckets: a budget that is a little
looser for a while beats refusing every analyst, or letting everyone through unmetered.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.cache.local import LocalTier

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

SECONDS_PER_BUDGET = 60.0
#: Principals whose buckets one process keeps (least recent go; a forgotten bucket is full).
MAX_LOCAL_BUCKETS = 50_000
#: Redis keys of buckets; a bucket untouched for two minutes is full again, so it may go.
KEY_PREFIX = "scv:budget:"
KEY_TTL_SECONDS = 120


@dataclass(frozen=True, slots=True)
class Charge:
    """The answer to one charge: taken, or refused with when to try again."""

    allowed: bool
    #: Whole seconds until the bucket holds enough (0 when allowed).
    retry_after: int = 0


class CostBudget(Protocol):
    """Takes a query's cost out of its principal's budget for the minute."""

    async def charge(self, principal: str, capacity: int, cost: int) -> Charge:
        """Take ``cost`` from ``principal``'s bucket of ``capacity`` per minute, or refuse."""
        ...


def _retry_after(missing: float, rate: float) -> int:
    return max(1, math.ceil(missing / rate))


class LocalCostBudget:
    """Token buckets in this process: one per principal, bounded in number."""

    def __init__(self, *, clock: Clock = time.monotonic, max_buckets: int = MAX_LOCAL_BUCKETS):
        self._clock = clock
        self._buckets = LocalTier(max_buckets, float("inf"))

    async def charge(self, principal: str, capacity: int, cost: int) -> Charge:
        """Refill by the time passed, then take ``cost`` if the bucket holds it."""
        now = self._clock()
        rate = capacity / SECONDS_PER_BUDGET
        found = self._buckets.get(principal)
        tokens, at = found if isinstance(found, tuple) else (float(capacity), now)
        tokens = min(float(capacity), tokens + max(0.0, now - at) * rate)
        if tokens < cost:
            self._buckets.put(principal, (tokens, now))
            return Charge(allowed=False, retry_after=_retry_after(cost - tokens, rate))
        self._buckets.put(principal, (tokens - cost, now))
        return Charge(allowed=True)


#: KEYS[1] the bucket; ARGV: capacity, refill per second, cost, now, key ttl.
#: Returns {1, 0} when taken, {0, tokens missing (as a string: Lua numbers lose fractions)}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
if allowed == 1 then
  return {1, '0'}
end
return {0, tostring(cost - tokens)}
"""


class RedisCostBudget:
    """Token buckets in Redis, shared by every gateway process; local ones when it is down."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Clock = time.time,
        fallback: LocalCostBudget | None = None,
    ) -> None:
        # Wall time, not monotonic: several processes (hosts) compare their clocks here.
        # The client is the app's, which closes it.
        self._client = client
        self._clock = clock
        self._script = client.register_script(_TAKE)
        self._fallback = fallback or LocalCostBudget(clock=clock)

    async def charge(self, principal: str, capacity: int, cost: int) -> Charge:
        """One atomic take in Redis; this process's own bucket if Redis does not answer."""
        rate = capacity / SECONDS_PER_BUDGET
        try:
            allowed, missing = await self._script(
                keys=[f"{KEY_PREFIX}{principal}"],
                args=[capacity, rate, cost, self._clock(), KEY_TTL_SECONDS],
            )
        except (RedisError, OSError) as exc:
            logger.warning(
                "cost budget: Redis did not answer; this process's buckets are used",
                extra={"error_type": type(exc).__name__},
            )
            return await self._fallback.charge(principal, capacity, cost)
        if int(allowed) == 1:
            return Charge(allowed=True)
        return Charge(allowed=False, retry_after=_retry_after(float(missing), rate))
