"""The CRM's OpenAPI description: the schemas of contacts and bodies, and the read operations.

The write operations are described next to their routes, in ``crm_writes``.
"""

from __future__ import annotations

from typing import get_args

from sandbox.crm.bodies import (
    MAX_BATCH,
    MAX_FILTER_GROUPS,
    MAX_FILTERS_PER_GROUP,
    MAX_SEARCH_LIMIT,
    Operator,
)
from sandbox.openapi import BOOLEAN, INTEGER, STRING, Operation, Param, nullable, obj, ref
from sandbox.responses import JSON

_ERROR = ref("Error")
SCHEMAS: dict[str, JSON] = {
    "Contact": obj(
        {
            "id": STRING,
            "properties": {"type": "object", "additionalProperties": nullable(STRING)},
            "createdAt": {**STRING, "format": "date-time"},
            "updatedAt": {**STRING, "format": "date-time"},
            "archived": BOOLEAN,
        }
    ),
    "Paging": obj({"next": obj({"after": STRING, "link": STRING}, required=["after"])}),
    "ContactPage": obj(
        {"results": {"type": "array", "items": ref("Contact")}, "paging": ref("Paging")},
        required=["results"],
    ),
    "SearchRequest": {
        "type": "object",
        "properties": {
            "filterGroups": {
                "type": "array",
                "maxItems": MAX_FILTER_GROUPS,
                "items": obj(
                    {
                        "filters": {
                            "type": "array",
                            "maxItems": MAX_FILTERS_PER_GROUP,
                            "items": obj(
                                {
                                    "propertyName": STRING,
                                    "operator": {"enum": list(get_args(Operator))},
                                    "value": {"type": ["string", "number", "boolean"]},
                                    "values": {"type": "array"},
                                    "highValue": {"type": ["string", "number", "boolean"]},
                                },
                                required=["propertyName", "operator"],
                            ),
                        }
                    }
                ),
            },
            "properties": {"type": "array", "items": STRING},
            "limit": {**INTEGER, "minimum": 1, "maximum": MAX_SEARCH_LIMIT},
            "after": STRING,
            "sorts": {"type": "array"},
            "query": STRING,
        },
    },
    "SearchResult": obj(
        {
            "total": INTEGER,
            "results": {"type": "array", "items": ref("Contact")},
            "paging": ref("Paging"),
        },
        required=["total", "results"],
    ),
    "BatchReadRequest": obj(
        {
            "inputs": {
                "type": "array",
                "maxItems": MAX_BATCH,
                "items": obj({"id": STRING}),
            },
            "properties": {"type": "array", "items": STRING},
            "idProperty": STRING,
        },
        required=["inputs"],
    ),
    "BatchReadResult": obj(
        {
            "status": {"const": "COMPLETE"},
            "results": {"type": "array", "items": ref("Contact")},
            "startedAt": STRING,
            "completedAt": STRING,
            "numErrors": INTEGER,
            "errors": {
                "type": "array",
                "items": obj(
                    {
                        "status": STRING,
                        "category": STRING,
                        "message": STRING,
                        "context": obj({"ids": {"type": "array", "items": STRING}}),
                    }
                ),
            },
        },
        required=["status", "results", "startedAt", "completedAt"],
    ),
    "Error": obj(
        {"status": STRING, "message": STRING, "correlationId": STRING, "category": STRING}
    ),
}

_PROPERTIES = Param("properties", "Comma-separated property names")
_ARCHIVED = Param("archived", "true: archived contacts only", BOOLEAN)
_AUTH_ERROR = (401, ("Missing or wrong token", _ERROR))

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/crm/v3/objects/contacts",
        "List contacts by id",
        {
            200: ("A page of contacts", ref("ContactPage")),
            400: ("Bad parameter", _ERROR),
            401: _AUTH_ERROR[1],
        },
        params=(
            Param(
                "limit", "Page size, 1..100 (default 10)", {**INTEGER, "minimum": 1, "maximum": 100}
            ),
            Param("after", "paging.next.after of the previous page"),
            _PROPERTIES,
            _ARCHIVED,
        ),
    ),
    Operation(
        "GET",
        "/crm/v3/objects/contacts/{id}",
        "Read a contact",
        {
            200: ("The contact", ref("Contact")),
            401: _AUTH_ERROR[1],
            404: ("No such contact", _ERROR),
        },
        params=(
            _PROPERTIES,
            Param("idProperty", "`email` to look the contact up by email"),
            _ARCHIVED,
        ),
    ),
    Operation(
        "POST",
        "/crm/v3/objects/contacts/search",
        "Search contacts (groups ORed, filters in a group ANDed)",
        {
            200: ("Matching contacts", ref("SearchResult")),
            400: ("Bad body", _ERROR),
            401: _AUTH_ERROR[1],
        },
        body=ref("SearchRequest"),
    ),
    Operation(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        "Read up to 100 contacts by id",
        {
            200: ("Every contact was found", ref("BatchReadResult")),
            207: ("Some ids were not found", ref("BatchReadResult")),
            400: ("Bad body", _ERROR),
            401: _AUTH_ERROR[1],
        },
        params=(_ARCHIVED,),
        body=ref("BatchReadRequest"),
    ),
)
