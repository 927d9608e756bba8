"""What the gateway reads from the CRM (its port): the Protocol the panels, the sync and the
cache see, implemented over HTTP by ``adapters.crm.client.HttpCrmAdapter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from kernel.models import CrmContact, CrmContactId


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

    def iter_contacts_modified_since(self, since: datetime) -> AsyncIterator[list[CrmContact]]:
        """Contacts modified at or after ``since``, oldest change first, a page at a time.

        For the incremental sync. A contact may come twice (HubSpot's search window is
        restarted past 10,000 results); reading a contact again is harmless to the sync.
        """
        ...


#: Contact properties the adapter asks for, besides the configured billing-id property.
