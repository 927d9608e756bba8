"""Fixtures of the app tests: a real Redis for the shared response cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.redis_server import EmbeddedRedis, configured_redis_url


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for the session: ``SCV_TEST_REDIS_URL``, or an embedded one."""
    configured = configured_redis_url()
    if configured is not None:
        yield configured
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.url
    server.stop()


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's Redis, emptied for this test."""
    with redis.Redis.from_url(redis_server_url) as client:
        client.flushdb()
    return redis_server_url


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A Redis of this test's own, which the test may stop (always embedded)."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("own-redis"))
    yield server
    server.stop()
