"""CRM, HubSpot CRM v3-shaped: the system of record for name and contact details."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from adapters.models import CrmContact, CrmContactId


class CrmAdapter(Protocol):
    """Reads contacts from the CRM."""

    async def get_contacts(self, ids: Sequence[CrmContactId]) -> dict[CrmContactId, CrmContact]:
        """The contacts with these ids, in one batch read per 100 ids.

        Ids the CRM does not know are absent from the result (not an error).
        """
        ...

    async def search_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]:
        """Contacts whose email (case-insensitive) or phone equals the one given."""
        ...

    def iter_contacts(self) -> AsyncIterator[list[CrmContact]]:
        """Every contact, one page at a time, for the identity sync."""
        ...
