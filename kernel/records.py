"""A system's record as the identity linking reads it, and how one source is read for it.

Every linkable source turns its records into ``LinkRecord``s (``adapters/<source>/linking.py``):
an id, what names and reaches the person, and the record of another source it names (a CRM
contact naming its billing customer, a support user naming its CRM contact). The sync and
live linking (``app.identity``) link them by the same rules, whatever the source.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

#: Where a source's next incremental read starts: a time to read changes from (aware), or a
#: vendor's opaque cursor.
SourceCursor = datetime | str


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """One record of a source, as linking sees it."""

    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    #: The id of the record of another source this one names (that source is the registry
    #: entry's ``names``), if any.
    xref: str | None = None


@dataclass(frozen=True, slots=True)
class LinkPass:
    """One source's records for one sync run, a page at a time, and where its next run
    starts once they are read."""

    pages: AsyncIterator[list[LinkRecord]]
    #: Read from a saved cursor (what changed), not in full.
    incremental: bool
    #: Meaningful once every page was read and stored (a vendor's cursor moves as it reads).
    next_cursor: Callable[[], SourceCursor]


async def records_of(
    pages: AsyncIterator[list[T]], to_record: Callable[[T], LinkRecord]
) -> AsyncIterator[list[LinkRecord]]:
    """``pages`` of a source's own models, as pages of ``LinkRecord``s.

    Closing this closes ``pages`` too, at once: a vendor listing stops when its reader does.
    """
    try:
        async for page in pages:
            yield [to_record(item) for item in page]
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()
