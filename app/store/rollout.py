"""Sources' rollout as supervisors set it: the ``source_rollout`` table of
``014_source_rollout.sql`` (a ``kernel.rollout.RolloutStore``)."""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from app.store.customers import Store
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout

__all__ = ["PostgresRolloutStore"]

_SELECT = """
select source, mode, pilot_subjects, pilot_queues, changed_by, changed_at, reason
  from source_rollout
"""
# The time is the server's, as in the audit trail: every instance dates a change alike.
_UPSERT = """
insert into source_rollout (source, mode, pilot_subjects, pilot_queues, changed_by, reason)
values ($1, $2, $3, $4, $5, $6)
on conflict (source) do update
   set mode = excluded.mode, pilot_subjects = excluded.pilot_subjects,
       pilot_queues = excluded.pilot_queues, changed_by = excluded.changed_by,
       changed_at = now(), reason = excluded.reason
returning source, mode, pilot_subjects, pilot_queues, changed_by, changed_at, reason
"""

# The rollback's step: atomic, so that two instances breaching at once move a source back one
# phase, not two. With no row, the source is at its configured mode, which the caller read
# as ``$7``; two such inserts at once conflict, and the second finds the first's mode.
_MOVE = """
insert into source_rollout as r (source, mode, pilot_subjects, pilot_queues, changed_by, reason)
values ($1, $2, $3, $4, $5, $6)
on conflict (source) do update
   set mode = excluded.mode, pilot_subjects = excluded.pilot_subjects,
       pilot_queues = excluded.pilot_queues, changed_by = excluded.changed_by,
       changed_at = now(), reason = excluded.reason
 where r.mode = $7
returning source, mode, pilot_subjects, pilot_queues, changed_by, changed_at, reason
"""


def _values(rollout: SourceRollout) -> tuple[object, ...]:
    """The statements' first six parameters."""
    return (
        rollout.source.value,
        rollout.mode.value,
        sorted(rollout.pilot_subjects),
        sorted(rollout.pilot_queues),
        rollout.changed_by or "",
        rollout.reason or "",
    )


def _rollout(row: asyncpg.Record) -> SourceRollout:
    return SourceRollout(
        source=Source(row["source"]),
        mode=RolloutMode(row["mode"]),
        pilot_subjects=frozenset(row["pilot_subjects"]),
        pilot_queues=frozenset(row["pilot_queues"]),
        changed_by=row["changed_by"],
        changed_at=row["changed_at"],
        reason=row["reason"],
    )


class PostgresRolloutStore:
    """Reads every source's last change, and keeps a new one."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool

    async def rollout_overrides(self) -> Mapping[Source, SourceRollout]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(_SELECT)
        known = {source.value for source in Source}
        # A row of a source this build no longer has is left alone, not an error.
        return {
            rollout.source: rollout
            for rollout in (_rollout(row) for row in rows if row["source"] in known)
        }

    async def save_rollout(self, rollout: SourceRollout) -> SourceRollout:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_UPSERT, *_values(rollout))
        assert row is not None  # an upsert with RETURNING always returns its row
        return _rollout(row)

    async def move_rollout(
        self, rollout: SourceRollout, expected: RolloutMode
    ) -> SourceRollout | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_MOVE, *_values(rollout), expected.value)
        return _rollout(row) if row is not None else None
