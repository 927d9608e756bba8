"""PostgreSQL LISTEN/NOTIFY for live changes (``app.live``): publish on a channel, listen on it.

The one place the live changes speak to PostgreSQL (asyncpg stays in ``app.store``). NOTIFY
goes through the store's pool; LISTEN holds a connection of its own outside the pool (a
pooled connection is reset, ``UNLISTEN *``, when it goes back). If that connection is lost,
it is made again; events NOTIFIed meanwhile are lost, as PostgreSQL keeps none for a
listener that is gone, which is why subscribers are told to re-query after an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

logger = logging.getLogger(__name__)

#: How soon the listening connection is made again once lost.
RECONNECT_SECONDS = 1.0


class PostgresChannel:
    """NOTIFY and LISTEN on one channel of the store's database."""

    def __init__(self, pool: asyncpg.Pool[asyncpg.Record], dsn: str, channel: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def publish(self, payload: str) -> None:
        """NOTIFY ``payload`` (every listener, this process's included, receives it)."""
        async with self._pool.acquire() as conn:
            await conn.execute("select pg_notify($1, $2)", self._channel, payload)

    async def start(
        self,
        on_message: Callable[[str], None],
        on_gap: Callable[[], None],
        within: float = 5.0,
    ) -> None:
        """LISTEN from now on, handing each payload to ``on_message``, and calling ``on_gap``
        when listening again after the connection was lost; returns once listening (or after
        ``within`` seconds, still trying: the gateway serves queries meanwhile)."""
        self._task = asyncio.create_task(self._listen(on_message, on_gap))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), within)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self, on_message: Callable[[str], None], on_gap: Callable[[], None]) -> None:
        def received(
            conn: asyncpg.Connection[Any] | PoolConnectionProxy[Any],
            pid: int,
            channel: str,
            payload: object,
        ) -> None:
            on_message(str(payload))

        # Whether events may have been NOTIFIed while nobody here listened.
        missed_some = False
        while True:
            conn: asyncpg.Connection[asyncpg.Record] | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _conn, closed=closed: closed.set())
                await conn.add_listener(self._channel, received)
                self._listening.set()
                if missed_some:
                    on_gap()
                await closed.wait()
                self._listening.clear()
                logger.warning("live changes: the LISTEN connection closed; listening again")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The type only: a connection error's text may name the host and user.
                logger.warning("live changes: cannot LISTEN (%s); retrying", type(exc).__name__)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            missed_some = True
            await asyncio.sleep(RECONNECT_SECONDS)
