"""Zendesk's shapes: users and tickets as the Support API v2 writes them, and its errors.

Ids are integers and timestamps ISO 8601 UTC; every object carries its own API ``url``,
under the base URL the request came in on.
"""

from __future__ import annotations

from sandbox.records import SupportUser, Ticket
from sandbox.responses import JSON, VendorError, iso

TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")


# --- errors -----------------------------------------------------------------------------


def zendesk_error(status: int, error: str, description: str | None = None) -> VendorError:
    """An error in Zendesk's shape: ``{"error": ..., "description": ...}``."""
    body: JSON = {"error": error}
    if description is not None:
        body["description"] = description
    return VendorError(status, body)


def invalid_value(description: str) -> VendorError:
    """The 400 for a bad parameter other than pagination."""
    return zendesk_error(400, "InvalidValue", description)


def invalid_pagination(description: str) -> VendorError:
    """The 400 for a bad ``page[...]`` parameter."""
    return zendesk_error(400, "InvalidPaginationParameter", description)


def _not_found() -> VendorError:
    return zendesk_error(404, "RecordNotFound", "Not found")


# --- rendering --------------------------------------------------------------------------


def render_user(user: SupportUser, base_url: str) -> JSON:
    """A user as Zendesk writes it."""
    return {
        "id": user.id,
        "url": f"{base_url}/api/v2/users/{user.id}.json",
        "name": user.name,
        "email": user.email,
        "phone": user.phone,
        "external_id": user.external_id,
        "role": user.role,
        "active": user.active,
        "created_at": iso(user.created),
        "updated_at": iso(user.updated),
    }


def render_ticket(ticket: Ticket, base_url: str) -> JSON:
    """A ticket as Zendesk writes it."""
    return {
        "id": ticket.id,
        "url": f"{base_url}/api/v2/tickets/{ticket.id}.json",
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status,
        "priority": ticket.priority,
        "type": ticket.type,
        "requester_id": ticket.requester_id,
        "created_at": iso(ticket.created),
        "updated_at": iso(ticket.updated),
    }
