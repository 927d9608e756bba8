"""The CRM read for identity linking: contacts anchor customers, and name their billing id.

A contact is read in full or, from a saved time, as the contacts modified since (HubSpot's
``lastmodifieddate`` search). Its ``xref`` is the billing customer id it names, where the
CRM keeps one (``CrmSettings.billing_id_property``).
"""

from __future__ import annotations

from datetime import datetime

from adapters.crm.port import CrmAdapter
from kernel.linking import LinkPass, LinkRecord, SourceCursor, records_of
from kernel.models import CrmContact, CrmContactId


def to_record(contact: CrmContact) -> LinkRecord:
    """A contact as linking reads it."""
    return LinkRecord(
        contact.id, contact.name, contact.email, contact.phone, contact.billing_customer_id
    )


def plan_pass(crm: CrmAdapter, cursor: SourceCursor | None, next_time: datetime) -> LinkPass:
    """Every contact, or those modified since the cursor's time."""
    since = cursor if isinstance(cursor, datetime) else None
    pages = crm.iter_contacts() if since is None else crm.iter_contacts_modified_since(since)
    return LinkPass(records_of(pages, to_record), since is not None, lambda: next_time)


async def search(crm: CrmAdapter, email: str | None, phone: str | None) -> list[LinkRecord]:
    """The contacts with this email or phone."""
    return [to_record(contact) for contact in await crm.search_contacts(email=email, phone=phone)]


async def get(crm: CrmAdapter, external_id: str) -> LinkRecord | None:
    """The contact with this id, if the CRM has it."""
    found = await crm.get_contacts([CrmContactId(external_id)])
    contact = found.get(CrmContactId(external_id))
    return None if contact is None else to_record(contact)
