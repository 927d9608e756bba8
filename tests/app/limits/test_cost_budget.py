"""The per-principal cost budget: a token bucket, in-process and shared through Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from app.limits.budget import Charge, CostBudget, LocalCostBudget, RedisCostBudget
from tests.fakes import ManualClock
from tests.redis_server import EmbeddedRedis


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


@pytest.fixture(params=["local", "redis"])
def budget(request: pytest.FixtureRequest, clock: ManualClock) -> CostBudget:
    if request.param == "local":
        return LocalCostBudget(clock=clock)
    return RedisCostBudget(request.getfixturevalue("client"), clock=clock)


async def test_a_full_bucket_takes_a_query_that_fits(budget: CostBudget) -> None:
    assert await budget.charge("analyst:a", 600, 600) == Charge(allowed=True)


async def test_an_exhausted_bucket_refuses_with_the_seconds_until_it_refills(
    budget: CostBudget,
) -> None:
    await budget.charge("analyst:a", 600, 500)
    # 600 per minute refills 10 a second: 150 missing is 15 seconds away.
    assert await budget.charge("analyst:a", 600, 250) == Charge(allowed=False, retry_after=15)


async def test_an_exhausted_bucket_recovers_as_time_refills_it(
    budget: CostBudget, clock: ManualClock
) -> None:
    await budget.charge("analyst:a", 600, 600)
    clock.now += 14
    assert not (await budget.charge("analyst:a", 600, 150)).allowed
    clock.now += 1
    assert (await budget.charge("analyst:a", 600, 150)).allowed


async def test_a_refused_query_takes_nothing_from_the_bucket(
    budget: CostBudget, clock: ManualClock
) -> None:
    await budget.charge("analyst:a", 600, 600)
    clock.now += 6
    assert not (await budget.charge("analyst:a", 600, 100)).allowed
    assert (await budget.charge("analyst:a", 600, 60)).allowed


async def test_a_bucket_never_holds_more_than_a_minutes_budget(
    budget: CostBudget, clock: ManualClock
) -> None:
    clock.now += 3600
    assert (await budget.charge("analyst:a", 600, 600)).allowed
    assert not (await budget.charge("analyst:a", 600, 1)).allowed


async def test_each_principal_has_a_bucket_of_their_own(budget: CostBudget) -> None:
    await budget.charge("analyst:a", 600, 600)
    assert (await budget.charge("analyst:b", 600, 600)).allowed


async def test_processes_sharing_a_redis_share_each_principals_bucket(
    client: redis.Redis, clock: ManualClock
) -> None:
    first, second = RedisCostBudget(client, clock=clock), RedisCostBudget(client, clock=clock)
    await first.charge("analyst:a", 600, 400)
    assert not (await second.charge("analyst:a", 600, 400)).allowed


async def test_without_redis_each_process_falls_back_to_its_own_buckets(
    own_redis: EmbeddedRedis, clock: ManualClock
) -> None:
    connection = redis.Redis.from_url(own_redis.url, socket_timeout=1, socket_connect_timeout=1)
    budget = RedisCostBudget(connection, clock=clock)
    own_redis.stop()
    try:
        assert (await budget.charge("analyst:a", 600, 600)).allowed
        assert not (await budget.charge("analyst:a", 600, 1)).allowed
    finally:
        await connection.aclose()
