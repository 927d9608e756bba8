"""What the gateway writes to the CRM, the system of record for contact details: notes on a
contact, and its email, phone and address, checked against the version the agent read."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.crm.port import CrmAdapter, contact_version
from kernel.errors import UpstreamNotFound
from kernel.models import CrmContact, CrmContactId, Source
from kernel.writes import RecordChanged, SourceWrite, WriteApplied, WriteCommand, WriteKind

#: A contact-details write's fields (``ContactDetailsInput``) and their HubSpot properties.
DETAIL_PROPERTIES = {
    "email": "email",
    "phone": "phone",
    "line1": "address",
    "city": "city",
    "region": "state",
    "postal_code": "zip",
    "country": "country",
}


async def add_note(adapter: CrmAdapter, command: WriteCommand) -> WriteApplied:
    """A note on the customer's contact, with its association to it."""
    body = command.values.get("body")
    if not isinstance(body, str):
        raise TypeError("a note's body is text")
    note_id = await adapter.create_note(CrmContactId(command.record_id), body, datetime.now(UTC))
    return WriteApplied(record_id=note_id)


async def check_version(adapter: CrmAdapter, command: WriteCommand) -> None:
    """``RecordChanged`` unless the contact is at the version the agent read."""
    await _contact_at_version(adapter, command)


async def update_contact_details(adapter: CrmAdapter, command: WriteCommand) -> WriteApplied:
    """The details given, if the contact is still at the version the agent read.

    HubSpot takes no precondition on a contact's PATCH, so the contact is read first: a
    change between that read and the PATCH (milliseconds) is the window left.
    """
    contact_id = await _contact_at_version(adapter, command)
    properties = {
        DETAIL_PROPERTIES[name]: value if isinstance(value, str) else None
        for name, value in command.values.items()
        if name in DETAIL_PROPERTIES
    }
    await adapter.update_contact(contact_id, properties)
    return WriteApplied(record_id=contact_id)


async def _contact_at_version(adapter: CrmAdapter, command: WriteCommand) -> CrmContactId:
    contact_id = CrmContactId(command.record_id)
    contact = (await adapter.get_contacts([contact_id])).get(contact_id)
    if contact is None:
        raise UpstreamNotFound(Source.CRM, "no such contact")
    version = contact_version(contact)
    if command.expected_version != version:
        raise RecordChanged(current_details(contact), version)
    return contact_id


def current_details(contact: CrmContact) -> dict[str, str | None]:
    """The contact's values of the fields a contact-details write changes."""
    address = contact.address
    return {
        "email": contact.email,
        "phone": contact.phone,
        "line1": address.line1 if address else None,
        "city": address.city if address else None,
        "region": address.region if address else None,
        "postal_code": address.postal_code if address else None,
        "country": address.country if address else None,
    }


WRITES: tuple[SourceWrite, ...] = (
    SourceWrite(WriteKind.CUSTOMER_NOTE, add_note),
    SourceWrite(WriteKind.CONTACT_DETAILS, update_contact_details, check=check_version),
)
