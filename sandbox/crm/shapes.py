"""HubSpot's shapes: a contact as CRM v3 writes it, and HubSpot's error envelope.

A contact carries only the requested properties (the default set when none are asked for)
plus ``createdate``, ``lastmodifieddate`` and ``hs_object_id``, as HubSpot does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sandbox.records import CrmContact
from sandbox.responses import JSON, VendorError, iso

#: The properties the sandbox's contacts can have (others requested are left out).
PROPERTIES = (
    "firstname",
    "lastname",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "billing_customer_id",
    "date_of_birth",
)
DEFAULT_PROPERTIES = ("firstname", "lastname", "email")


# --- errors -----------------------------------------------------------------------------


def hubspot_error(status: int, category: str, message: str) -> VendorError:
    """An error in HubSpot's envelope (with a fresh correlation id, as HubSpot sends)."""
    return VendorError(
        status,
        {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
        },
    )


def validation_error(message: str) -> VendorError:
    """The 400 for a bad parameter or body."""
    return hubspot_error(400, "VALIDATION_ERROR", message)


def _not_found(contact_id: str) -> VendorError:
    return hubspot_error(404, "OBJECT_NOT_FOUND", f"Object not found. objectId: {contact_id}")


# --- rendering --------------------------------------------------------------------------


def render_contact(contact: CrmContact, properties: Sequence[str] | None) -> JSON:
    """A contact with the requested properties (default set if None), as HubSpot writes it."""
    values: dict[str, str | None] = {}
    for name in properties or DEFAULT_PROPERTIES:
        if name in contact.properties:
            values[name] = contact.properties[name]
        elif name in PROPERTIES:
            values[name] = None
    values["createdate"] = iso(contact.created)
    values["lastmodifieddate"] = iso(contact.updated)
    values["hs_object_id"] = contact.id
    return {
        "id": contact.id,
        "properties": values,
        "createdAt": iso(contact.created),
        "updatedAt": iso(contact.updated),
        "archived": contact.archived,
    }
