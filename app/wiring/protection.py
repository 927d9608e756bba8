"""Builds what protects the systems from one app's settings: limits, budget, persisted queries.

``create_app`` takes the pieces from here: the schema extensions, the persisted queries the
GraphQL view resolves, the body limit and whether GraphiQL is served; the lifespan closes
the Redis client (which connects only when first used).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from strawberry.extensions import SchemaExtension

from app.cache.settings import CacheSettings
from app.limits.budget import CostBudget, LocalCostBudget, RedisCostBudget
from app.limits.checks import CountRefusal, budget_refusal, limit_extensions
from app.limits.persisted_queries import PersistedQueries, persisted_queries_for
from app.limits.refusal import QueryRefused
from app.settings import Settings


@dataclass(frozen=True, slots=True)
class QueryProtection:
    """The parts of one app that limit what a request may ask of the systems."""

    extensions: list[Callable[[], SchemaExtension]]
    persisted_queries: PersistedQueries
    max_body_bytes: int
    graphiql: bool
    #: Shared by the budget and the APQ documents when ``SCV_CACHE__URL`` is set.
    redis: redis.Redis | None
    #: Charges (role, subject, cost) to the budget, as ``GuardCost`` does: for answers
    #: served again without executing.
    charge: Callable[[str, str, int], Awaitable[QueryRefused | None]]


def shared_redis(cache: CacheSettings) -> redis.Redis | None:
    """A client of the cache's Redis, with its timeouts and no retries, if one is set."""
    if cache.url is None:
        return None
    return redis.Redis.from_url(
        cache.url.get_secret_value(),
        socket_timeout=cache.redis_timeout_seconds,
        socket_connect_timeout=cache.redis_connect_timeout_seconds,
        # A failure is answered at once from this process's own state (see cost_budget).
        retry=Retry(NoBackoff(), retries=0),
    )


def build_query_protection(
    settings: Settings,
    *,
    count_refusal: CountRefusal,
    budget: CostBudget | None = None,
) -> QueryProtection:
    """The protection ``settings`` describe; ``budget`` replaces the configured one (tests)."""
    client = shared_redis(settings.cache)
    if budget is None:
        budget = RedisCostBudget(client) if client is not None else LocalCostBudget()
    limits = settings.limits
    return QueryProtection(
        extensions=limit_extensions(
            limits,
            introspection=limits.introspection_on(settings.demo),
            budget=budget,
            count_refusal=count_refusal,
        ),
        persisted_queries=persisted_queries_for(settings.persisted_queries, client),
        max_body_bytes=limits.max_body_bytes,
        graphiql=limits.graphiql_on(settings.demo),
        redis=client,
        charge=functools.partial(budget_refusal, limits, budget),
    )
