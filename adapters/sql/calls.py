"""Reading one database source: every query bounded, observed, wrapped and translated.

``UpstreamDatabase`` is to a database what ``adapters.http.client.UpstreamHttp`` is to an
API: each read runs within the request's deadline and the section's statement timeout,
through the source's ``CallPolicy`` (reads are idempotent, so they may be retried), is told
to the context's ``upstream_observer`` (metrics, source health, the access log), and fails
only with the kernel's error tree, raised ``from`` the driver's exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.http.client import CallPolicy
from adapters.http.context import ABORTED, time_left, upstream_observer
from adapters.sql.errors import database_error
from kernel.errors import UpstreamError, UpstreamTimeout
from kernel.models import Source

T = TypeVar("T")

#: One read: what it does with a connection of the source's pool.
Read = Callable[[AsyncConnection], Awaitable[T]]


class UpstreamDatabase:
    """Runs one source's reads on its engine; see the module docstring."""

    def __init__(
        self,
        engine: AsyncEngine,
        source: Source,
        *,
        statement_timeout: float,
        policy: CallPolicy | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self._statement_timeout = statement_timeout
        self._policy = policy

    async def read(self, read: Read[T]) -> T:
        """The result of ``read`` on a pooled connection; ``UpstreamError`` otherwise."""

        async def attempt() -> Any:
            return await self._attempt(read)

        if self._policy is None:
            result: T = await attempt()
            return result
        answer: T = await self._policy.call(attempt, idempotent=True)
        return answer

    async def _attempt(self, read: Read[T]) -> T:
        left = time_left()
        if left is not None and left <= 0:
            # Not sent, so not observed: the source had no part in it.
            raise UpstreamTimeout(self.source, "no time left before the request's deadline")
        limit = self._statement_timeout if left is None else min(left, self._statement_timeout)
        observer = upstream_observer.get()
        started = time.perf_counter()
        outcome: str | None = ABORTED
        try:
            result = await self._run(read, limit)
        except UpstreamError as exc:
            outcome = exc.code
            raise
        else:
            outcome = None
            return result
        finally:
            if observer is not None:
                observer(self.source, time.perf_counter() - started, outcome)

    async def _run(self, read: Read[T], limit: float) -> T:
        try:
            async with asyncio.timeout(limit):
                async with self.engine.connect() as conn:
                    return await read(conn)
        except UpstreamError:
            raise
        except Exception as exc:
            raise database_error(self.source, exc) from exc
