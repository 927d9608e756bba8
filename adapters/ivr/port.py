"""What the gateway reads from the IVR platform (its port): the Protocol the interactions see,
implemented over HTTP by ``adapters.ivr.client.HttpIvrAdapter``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from kernel.models import IvrContact, IvrContactId, IvrContactSummary, Source
from kernel.ports import SourcePort


class IvrAdapter(Protocol):
    """Reads what the IVR recorded about a contact (call)."""

    async def get_contact(self, contact_id: IvrContactId) -> IvrContact:
        """The attributes of one contact; ``UpstreamNotFound`` if there is no such contact."""
        ...

    async def list_contacts(self, since: datetime) -> list[IvrContactSummary]:
        """Contacts initiated at or after ``since``, oldest first, every page."""
        ...


#: Its adapter among the gateway's sources: ``sources.port(PORT)`` is typed ``IvrAdapter``.
PORT: SourcePort[IvrAdapter] = SourcePort(Source.IVR)
