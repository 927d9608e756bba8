"""Group commit for the audit trail: concurrent requests' entries in one INSERT.

Each cold view writes its audit entries before it answers, one round trip to PostgreSQL
per request. When requests overlap, their entries are gathered: while one INSERT is under
way, the entries arriving meanwhile wait for it to finish and then go together in the next
one (a request that finds no write under way writes its own entries at once, inline, so a
request alone waits and costs no more than before). Every request still waits until the
INSERT holding its own entries has committed, and when that INSERT fails, every request in
it is told so and fails closed (its personal values withheld): grouping changes how many
statements carry the rows, never whether a request is answered before its rows are
durable.

Measured by ``make bench-audit-group`` (``bench/audit_group.py``): the gateway's CPU per
audited request is lower once requests overlap (about a quarter at 4 clients, a half at 16,
in a closed loop), the same for a request alone.

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
        #: A write is under way (a request's own, or a group's).
        self._busy = False
        #: The group writers running (held so that they are not collected mid-write).
        self._writers: set[asyncio.Task[None]] = set()
        #: Statements written and entries they carried (for the bench and tests).
        self.statements = 0
        self.entries = 0

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` with whatever else is waiting; returns once they committed,
        raises what their group's INSERT raised."""
        if not entries:
            return
        if not self._busy:
            # No write under way: this request writes its own entries at once, inline (no
            # task, no future: alone, it costs what an ungrouped write costs), and hands
            # what arrived meanwhile to a writer when it is done.
            self._busy = True
            try:
                await self._write(entries)
            finally:
                self._hand_over()
            return
        done = self._pending_done
        if done is None:
            done = self._pending_done = asyncio.get_running_loop().create_future()
            # Retrieved here too: a group whose callers all gave up must not warn.
            done.add_done_callback(_retrieve)
        self._pending.extend(entries)
        # A caller's own deadline ends its wait, never the group's write.
        await asyncio.shield(done)

    async def _write(self, entries: Sequence[AuditEntry]) -> None:
        async with asyncio.timeout(self._timeout):
            await self._append(entries)
        self.statements += 1
        self.entries += len(entries)

    def _hand_over(self) -> None:
        if self._pending:
            writer = asyncio.get_running_loop().create_task(
                self._write_groups(), name="scv-audit-group"
            )
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        else:
            self._busy = False

    async def _write_groups(self) -> None:
        try:
            while self._pending:
                entries, done = self._pending, self._pending_done
                self._pending, self._pending_done = [], None
                assert done is not None
                try:
                    await self._write(entries)
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    done.set_result(None)
        finally:
            self._busy = False


def _retrieve(done: asyncio.Future[None]) -> None:
    if not done.cancelled():
        done.exception()
