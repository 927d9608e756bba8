"""Group commit for the audit trail: concurrent requests' entries in one INSERT.

Each cold view writes its audit entries before it answers, one round trip to PostgreSQL
per request. When requests overlap, their entries are gathered: while one INSERT is under
way, the entries arriving meanwhile wait for it to finish and then go together in the next
one (a write starts at once when none is under way, so a request alone waits no longer
than before). Every request still waits until the INSERT holding its own entries has
committed, and when that INSERT fails, every request in it is told so and fails closed (its
personal values withheld): grouping changes how many statements carry the rows, never
whether a request is answered before its rows are durable.

Written here rather than taken from a library: asyncpg and SQLAlchemy batch statements a
caller already holds, not the calls of independent tasks, and the whole of it is one
future per group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from kernel.access import AuditEntry

Append = Callable[[Sequence[AuditEntry]], Awaitable[None]]


class GroupedAppend:
    """``append`` shared by concurrent callers: one statement per group (see the module).

    ``timeout`` bounds each grouped write, so that a hung database cannot hold a group (and
    the entries piling up behind it) forever; each caller also has its own deadline.
    """

    def __init__(self, append: Append, timeout: float) -> None:
        self._append = append
        self._timeout = timeout
        self._pending: list[AuditEntry] = []
        self._pending_done: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        #: Statements written and entries they carried (for the bench and tests).
        self.statements = 0
        self.entries = 0

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` with whatever else is waiting; returns once they committed,
        raises what their group's INSERT raised."""
        if not entries:
            return
        done = self._pending_done
        if done is None:
            done = self._pending_done = asyncio.get_running_loop().create_future()
            # Retrieved here too: a group whose callers all gave up must not warn.
            done.add_done_callback(_retrieve)
        self._pending.extend(entries)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_groups(), name="scv-audit-group")
        # A caller's own deadline ends its wait, never the group's write.
        await asyncio.shield(done)

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                entries, done = self._pending, self._pending_done
                self._pending, self._pending_done = [], None
                assert done is not None
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._append(entries)
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    self.statements += 1
                    self.entries += len(entries)
                    done.set_result(None)
        finally:
            self._writer = None


def _retrieve(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
