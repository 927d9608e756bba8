"""Kept answers shared through Redis (a real one): served by another process as its own,
sealed at rest, dropped when a record behind them changes, never an error when unreadable."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as redis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from app.cache.metrics import CacheMetrics
from app.cache.settings import CacheSettings
from app.cache.tiers import RedisTier
from app.whole_response.cache import WholeResponseCache, shared_key
from app.whole_response.kept import from_bytes
from app.whole_response.metrics import WholeResponseMetrics
from app.whole_response.settings import WholeResponseSettings
from tests.app.whole_response.test_whole_response_cache import (
    ADA,
    Trail,
    context,
    filled,
    free,
    kept_for,
)
from tests.fakes import ManualClock

KEY = base64.b64encode(b"k" * 32).decode()

Process = Callable[..., Awaitable[WholeResponseCache]]


@pytest.fixture
async def process(redis_url: str) -> AsyncIterator[Process]:
    """Opens whole-response caches on the test's Redis, one per "gateway process"."""
    tiers: list[RedisTier] = []

    async def open_one(clock: ManualClock, encryption_key: str | None = None) -> WholeResponseCache:
        settings = CacheSettings(
            url=SecretStr(redis_url),
            encryption_key=None if encryption_key is None else SecretStr(encryption_key),
        )
        tier = RedisTier(settings, redis_url, CacheMetrics.create(CollectorRegistry()))
        await tier.start(wait_seconds=2.0)
        tiers.append(tier)
        metrics = WholeResponseMetrics.create(CollectorRegistry())
        return WholeResponseCache(WholeResponseSettings(), tier, metrics, clock=clock)

    yield open_one
    for tier in tiers:
        await tier.close()


async def test_an_answer_kept_by_one_process_is_served_by_another_audited_as_its_reader(
    process: Process,
) -> None:
    clock = ManualClock(1_000_000.0)
    first, second = await process(clock), await process(clock)
    key = await kept_for(first, context(), filled())
    clock.advance(3)
    trail = Trail()
    data = await second.reuse(key, context("agent-2", audit=trail, request_id="req-2"), free)
    assert isinstance(data, dict)
    assert data["customerByEmail"]["billing"]["meta"] == {
        "cache": "HIT",
        "stale": False,
        "ageSeconds": 3.5,
    }
    [entry] = trail.entries
    assert (entry.subject, entry.request_id, entry.customer_id) == ("agent-2", "req-2", ADA)
    assert entry.fields == ("Profile.email",)


async def test_a_record_changed_through_one_process_is_not_served_by_another(
    process: Process,
) -> None:
    clock = ManualClock(1_000_000.0)
    first, second = await process(clock), await process(clock)
    key = await kept_for(first, context(), filled({"scv:cache:v1:rec:gen": 0}))
    await first._tier.bump_generation("scv:cache:v1:rec:gen", 60, "scv:cache:v1:rec:")
    assert await second.reuse(key, context("agent-2", audit=Trail()), free) is None


async def test_an_answer_outlives_its_lifetime_nowhere(process: Process) -> None:
    clock = ManualClock(1_000_000.0)
    first, second = await process(clock), await process(clock)
    key = await kept_for(first, context(), filled(fresh=5.0))
    clock.advance(6)
    assert await second.reuse(key, context("agent-2", audit=Trail()), free) is None


async def test_a_shared_answer_is_sealed_at_rest(process: Process, redis_url: str) -> None:
    clock = ManualClock(1_000_000.0)
    first = await process(clock, encryption_key=KEY)
    key = await kept_for(first, context(), filled())
    async with redis.Redis.from_url(redis_url) as client:
        stored = await client.get(shared_key(key))
    assert stored is not None
    assert b"cust-ada" not in stored
    second = await process(clock, encryption_key=KEY)
    assert isinstance(await second.reuse(key, context("agent-2", audit=Trail()), free), dict)


async def test_an_unreadable_shared_answer_is_a_miss(process: Process, redis_url: str) -> None:
    clock = ManualClock(1_000_000.0)
    first = await process(clock)
    key = await kept_for(first, context(), filled())
    async with redis.Redis.from_url(redis_url) as client:
        await client.set(shared_key(key), b"\x00{not json")
    second = await process(clock)
    assert await second.reuse(key, context("agent-2", audit=Trail()), free) is None
    assert from_bytes(b"[]") is None
