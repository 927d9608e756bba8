"""What the gateway reads from the CRM (its port): the Protocol the panels, the sync and the
cache see, implemented over HTTP by ``adapters.crm.client.HttpCrmAdapter``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from kernel.models import CrmContact, CrmContactId, Source
from kernel.ports import SourcePort


class CrmAdapter(Protocol):
    """Reads contacts from the CRM, and writes contact details and notes (its facts)."""

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

    async def update_contact(
        self, contact_id: CrmContactId, properties: Mapping[str, str | None]
    ) -> None:
        """Set (or clear, with None) the contact's properties, by their HubSpot names."""
        ...

    async def create_note(self, contact_id: CrmContactId, body: str, at: datetime) -> str:
        """A note associated with the contact, timestamped ``at``; the new note's id."""
        ...


def contact_version(contact: CrmContact) -> str:
    """The version of a contact's details as a read shows it, for ``expectedVersion``.

    HubSpot's ``updatedAt`` alone is too coarse to tell two changes in one second apart (the
    sandbox keeps whole seconds), so the version is a digest of it and of the values a
    contact-details write may change: any change to them gives another version.
    """
    address = contact.address
    parts = (
        contact.updated_at.isoformat(),
        contact.email,
        contact.phone,
        *(
            (address.line1, address.city, address.region, address.postal_code, address.country)
            if address is not None
            else ()
        ),
    )
    digest = hashlib.sha256("\x1f".join(part or "" for part in parts).encode()).hexdigest()
    return f"{contact.updated_at.strftime('%Y%m%dT%H%M%SZ')}-{digest[:12]}"


#: Contact properties the adapter asks for, besides the configured billing-id property.


#: Its adapter among the gateway's sources: ``sources.port(PORT)`` is typed ``CrmAdapter``.
PORT: SourcePort[CrmAdapter] = SourcePort(Source.CRM)
