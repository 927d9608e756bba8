"""Pooled connections whose session state changes: the advisory locks and the resets.

The pool takes connections back without asyncpg's full reset (``_session_state_unchanged``):
the few blocks that take an advisory lock or change a setting (the migrations, a sync) run
on a connection from ``_changing_session_state``, which resets it in full itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

# Advisory lock ids (any bigint unique to this application): one serialises migrations
# between processes starting together, the other keeps two syncs from creating the same
# customer twice.
_MIGRATIONS_LOCK = 0x5C5_0001
_SYNC_LOCK = 0x5C5_0002


async def _session_state_unchanged(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """The pool's reset of a connection it takes back: none beyond asyncpg's own local one
    (an open transaction is rolled back, listeners dropped).

    asyncpg's default sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release: one more round trip for every query of every request, which changes
    no session state. The blocks that do (an advisory lock, a setting) reset their
    connection themselves (``_changing_session_state``).
    """


@asynccontextmanager
async def _changing_session_state(
    pool: asyncpg.Pool[asyncpg.Record],
) -> AsyncIterator[PoolConnectionProxy[asyncpg.Record]]:
    """A pooled connection for a block that changes its session state (advisory locks,
    settings): reset in full before it goes back to the pool, or closed if that fails or is
    cancelled, so the next user never inherits a lock or a setting."""
    async with pool.acquire() as conn:
        try:
            yield conn
        finally:
            try:
                await conn.reset()
            except BaseException:
                conn.terminate()
                raise
