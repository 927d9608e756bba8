"""Support read for identity linking: users join the customer of the CRM contact they name,
or one with their email or phone.

A user is read in full or incrementally through Zendesk's user export: from the vendor's
own cursor once an export handed one back (Zendesk says to keep it rather than a time), or
the first time from the cursor's time. The pass's next cursor is the export's position
after the last page read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from adapters.support.port import SupportAdapter, UserChanges
from kernel.linking import LinkPass, LinkRecord, SourceCursor, records_of
from kernel.models import SupportUser, SupportUserId


def to_record(user: SupportUser) -> LinkRecord:
    """A user as linking reads it: its ``external_id`` is the CRM contact it names."""
    return LinkRecord(user.id, user.name, user.email, user.phone, user.external_id)


def plan_pass(
    support: SupportAdapter, cursor: SourceCursor | None, next_time: datetime
) -> LinkPass:
    """Every user, or the incremental export from the saved cursor (a time or Zendesk's)."""
    if cursor is None:
        return LinkPass(records_of(support.iter_users(), to_record), False, lambda: next_time)
    export = _ExportPosition(cursor)
    pages = export.users(support.iter_user_changes(cursor))
    return LinkPass(records_of(pages, to_record), True, export.current)


async def search(support: SupportAdapter, email: str | None, phone: str | None) -> list[LinkRecord]:
    """The users with this email or phone."""
    return [to_record(user) for user in await support.search_users(email=email, phone=phone)]


async def get(support: SupportAdapter, external_id: str) -> LinkRecord | None:
    """The user with this id, if support has it."""
    users = await support.get_users([SupportUserId(external_id)])
    user = users.get(SupportUserId(external_id))
    return None if user is None else to_record(user)


class _ExportPosition:
    """Where Zendesk's user export stands: the cursor handed back with the last page read."""

    def __init__(self, start: SourceCursor) -> None:
        self._cursor = start

    def current(self) -> SourceCursor:
        return self._cursor

    async def users(self, changes: AsyncIterator[UserChanges]) -> AsyncIterator[list[SupportUser]]:
        """The export's users page by page, moving the position past each page read.

        The position moves when the next page is asked for, after the sync has taken this
        one; the sync saves it only once every page is stored.
        """
        async for change in changes:
            yield list(change.users)
            self._cursor = change.cursor
