"""Where each source's incremental sync starts next, kept in ``sync_cursors``.

A cursor is either a time (read what changed at or after it: HubSpot's ``lastmodifieddate``
search, Stripe's ``created[gte]``, or Zendesk's export ``start_time`` before any export
handed back a cursor of its own) or a vendor's opaque cursor (Zendesk's ``after_cursor``,
which Zendesk says to keep rather than a time). A time is always taken before the pass
that earns it starts, less an overlap, so that a change made while a pass reads is read
again next time rather than missed; reading a record twice is harmless to the sync.

The sync writes a cursor only once the pass it resumes after has been written to the
store: a failed run leaves the old one, and the next run reads from there again.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from kernel.linking import SourceCursor
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["SourceCursor", "decode_cursor", "encode_cursor", "load_cursors", "save_cursor"]

_TIME_PREFIX = "time:"
_VENDOR_PREFIX = "cursor:"

_SELECT_CURSORS = "select source, cursor from sync_cursors where tenant = $1"
_UPSERT_CURSOR = """
insert into sync_cursors (tenant, source, cursor, updated_at) values ($3, $1, $2, now())
on conflict (tenant, source) do update
   set cursor = excluded.cursor, updated_at = excluded.updated_at
"""


def encode_cursor(cursor: SourceCursor) -> str:
    """The text stored in ``sync_cursors.cursor``."""
    if isinstance(cursor, datetime):
        if cursor.tzinfo is None:
            raise ValueError("a cursor time must carry its time zone")
        return _TIME_PREFIX + cursor.isoformat()
    if not cursor:
        raise ValueError("a vendor cursor cannot be empty")
    return _VENDOR_PREFIX + cursor


def decode_cursor(text: str) -> SourceCursor:
    """The cursor ``encode_cursor`` wrote; ``ValueError`` for anything else."""
    if text.startswith(_TIME_PREFIX):
        since = datetime.fromisoformat(text.removeprefix(_TIME_PREFIX))
        if since.tzinfo is None:
            raise ValueError("a cursor time must carry its time zone")
        return since
    if text.startswith(_VENDOR_PREFIX) and len(text) > len(_VENDOR_PREFIX):
        return text.removeprefix(_VENDOR_PREFIX)
    raise ValueError("not a sync cursor")


async def load_cursors(
    conn: PoolConnectionProxy[asyncpg.Record], tenant: TenantId
) -> dict[Source, SourceCursor]:
    """Every source's saved cursor of ``tenant``'s sync; one that cannot be read is left out
    (a full pass).

    A cursor is only ever written by ``save_cursor``: one that does not decode was changed
    by hand, and reading that source in full is the safe answer to it.
    """
    cursors: dict[Source, SourceCursor] = {}
    for row in await conn.fetch(_SELECT_CURSORS, tenant):
        try:
            cursors[Source(row["source"])] = decode_cursor(row["cursor"])
        except ValueError:
            continue
    return cursors


async def save_cursor(
    conn: PoolConnectionProxy[asyncpg.Record],
    tenant: TenantId,
    source: Source,
    cursor: SourceCursor,
) -> None:
    """Where ``source``'s next incremental pass of ``tenant``'s sync starts."""
    await conn.execute(_UPSERT_CURSOR, source.value, encode_cursor(cursor), tenant)
