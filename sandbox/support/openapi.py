"""Support's OpenAPI description: the schemas of users, tickets and pages, and the reads.

The write and export operations are described next to their routes, in ``support_writes``
and ``support_incremental``.
"""

from __future__ import annotations

from sandbox.openapi import BOOLEAN, INTEGER, STRING, Operation, Param, nullable, obj, ref
from sandbox.responses import JSON
from sandbox.support.reads import MAX_PAGE_SIZE
from sandbox.support.shapes import TICKET_STATUSES

_ERROR = ref("Error")
_TIME = {**STRING, "format": "date-time"}
SCHEMAS: dict[str, JSON] = {
    "User": obj(
        {
            "id": INTEGER,
            "url": STRING,
            "name": STRING,
            "email": nullable(STRING),
            "phone": nullable(STRING),
            "external_id": nullable(STRING),
            "role": {"enum": ["end-user", "agent", "admin"]},
            "active": BOOLEAN,
            "created_at": _TIME,
            "updated_at": _TIME,
        }
    ),
    "Ticket": obj(
        {
            "id": INTEGER,
            "url": STRING,
            "subject": STRING,
            "description": STRING,
            "status": {"enum": list(TICKET_STATUSES)},
            "priority": nullable({"enum": ["low", "normal", "high", "urgent"]}),
            "type": nullable(STRING),
            "requester_id": INTEGER,
            "created_at": _TIME,
            "updated_at": _TIME,
        }
    ),
    "CursorMeta": obj(
        {
            "has_more": BOOLEAN,
            "after_cursor": nullable(STRING),
            "before_cursor": nullable(STRING),
        }
    ),
    "CursorLinks": obj({"next": nullable(STRING), "prev": nullable(STRING)}),
    "UserPage": obj(
        {
            "users": {"type": "array", "items": ref("User")},
            "meta": ref("CursorMeta"),
            "links": ref("CursorLinks"),
        }
    ),
    "TicketPage": obj(
        {
            "tickets": {"type": "array", "items": ref("Ticket")},
            "meta": ref("CursorMeta"),
            "links": ref("CursorLinks"),
        }
    ),
    "UserSearchResult": obj(
        {
            "users": {"type": "array", "items": ref("User")},
            "next_page": {"type": "null"},
            "previous_page": {"type": "null"},
            "count": INTEGER,
        }
    ),
    "Users": obj({"users": {"type": "array", "items": ref("User")}}),
    "Tickets": obj({"tickets": {"type": "array", "items": ref("Ticket")}}),
    "OneUser": obj({"user": ref("User")}),
    "OneTicket": obj({"ticket": ref("Ticket")}),
    "Error": obj({"error": STRING, "description": STRING}, required=["error"]),
}

_PAGE = (
    Param(
        "page[size]",
        "Page size, 1..100 (default 100)",
        {**INTEGER, "minimum": 1, "maximum": MAX_PAGE_SIZE},
    ),
    Param("page[after]", "meta.after_cursor of the previous page"),
    Param("page[before]", "meta.before_cursor of the next page (to go back)"),
)
_IDS = Param("ids", "Comma-separated ids, at most 100", required=True)
_AUTH = (401, ("Missing or wrong token", _ERROR))
_BAD = (400, ("Bad parameter", _ERROR))
_MISSING = (404, ("No such record", _ERROR))

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/api/v2/users",
        "List users by id (cursor pagination)",
        {200: ("A page of users", ref("UserPage")), **dict([_BAD, _AUTH])},
        params=(Param("role", "Only users with this role, e.g. end-user"), *_PAGE),
    ),
    Operation(
        "GET",
        "/api/v2/users/search",
        "Search users: email:x, phone:x, external_id:x or free text",
        {200: ("Matching users (at most 100)", ref("UserSearchResult")), **dict([_BAD, _AUTH])},
        params=(
            Param("query", "email:x (any case), phone:x (exact), external_id:x, or text"),
            Param("external_id", "Exact external_id (instead of query)"),
        ),
    ),
    Operation(
        "GET",
        "/api/v2/users/show_many",
        "Users by id; unknown ids are left out",
        {200: ("The users found", ref("Users")), **dict([_BAD, _AUTH])},
        params=(_IDS,),
    ),
    Operation(
        "GET",
        "/api/v2/users/{id}",
        "Show a user",
        {200: ("The user", ref("OneUser")), **dict([_AUTH, _MISSING])},
    ),
    Operation(
        "GET",
        "/api/v2/users/{id}/tickets/requested",
        "Tickets the user requested, newest first (cursor pagination)",
        {200: ("A page of tickets", ref("TicketPage")), **dict([_BAD, _AUTH, _MISSING])},
        params=_PAGE,
    ),
    Operation(
        "GET",
        "/api/v2/tickets",
        "List every ticket by id (cursor pagination)",
        {200: ("A page of tickets", ref("TicketPage")), **dict([_BAD, _AUTH])},
        params=_PAGE,
    ),
    Operation(
        "GET",
        "/api/v2/tickets/show_many",
        "Tickets by id; unknown ids are left out",
        {200: ("The tickets found", ref("Tickets")), **dict([_BAD, _AUTH])},
        params=(_IDS,),
    ),
    Operation(
        "GET",
        "/api/v2/tickets/{id}",
        "Show a ticket",
        {200: ("The ticket", ref("OneTicket")), **dict([_AUTH, _MISSING])},
    ),
)
