"""CRM, shaped like HubSpot CRM v3: contacts, listed, fetched, searched and batch-read.

Contacts are property bags of strings; a response carries only the requested properties
(default ``firstname``, ``lastname``, ``email``) plus ``createdate``, ``lastmodifieddate``
and ``hs_object_id``, as HubSpot does. Lists are ordered by numeric id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.control import SystemControl
from sandbox.crm_search_order import (
    MAX_SEARCH_RESULTS,
    RANGE_OPERATORS,
    SYSTEM_PROPERTIES,
    SearchValueError,
    in_range,
    search_order,
    system_number,
)
from sandbox.crm_writes import OPERATIONS as WRITE_OPERATIONS
from sandbox.crm_writes import CrmWrites
from sandbox.openapi import BOOLEAN, INTEGER, STRING, Operation, Param, nullable, obj, ref
from sandbox.records import CrmContact, CrmStore, Dataset
from sandbox.responses import (
    JSON,
    JsonResponse,
    VendorError,
    VendorErrors,
    iso,
    now_iso,
    query_int,
    read_json_object,
)
from sandbox.system import BEARER_SCHEME, SystemSpec, bearer, build_system_app
from sandbox.table import page_after

API_KEY = "pat-sandbox-crm"

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
MAX_BATCH = 100
MAX_SEARCH_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6


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


def _rate_limited(retry_after: int) -> VendorError:
    error = hubspot_error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.")
    error.headers["Retry-After"] = str(retry_after)
    return error


ERRORS = VendorErrors(
    unauthorized=lambda: hubspot_error(
        401,
        "INVALID_AUTHENTICATION",
        "Authentication credentials not found. Send `Authorization: Bearer <private app token>`.",
    ),
    server_error=lambda status: hubspot_error(
        status,
        "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
        "internal error (injected by the sandbox)",
    ),
    rate_limited=_rate_limited,
    unknown_route=lambda status, message: hubspot_error(
        status, "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR", message
    ),
)


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


def _requested_properties(request: Request) -> list[str] | None:
    """``properties=a,b`` (or repeated ``properties=``); None when not given."""
    raw = request.query_params.getlist("properties")
    names = [name.strip() for value in raw for name in value.split(",") if name.strip()]
    return names or None


def _archived(request: Request) -> bool:
    return request.query_params.get("archived", "false").lower() == "true"


# --- request bodies ---------------------------------------------------------------------

Scalar = StrictInt | StrictFloat | StrictBool | str
Operator = Literal[
    "EQ",
    "NEQ",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "BETWEEN",
]


class Filter(BaseModel):
    """One condition on one property (field names are HubSpot's, hence camelCase)."""

    model_config = ConfigDict(extra="forbid")

    propertyName: str
    operator: Operator
    value: Scalar | None = None
    values: list[Scalar] | None = None
    #: The upper bound of ``BETWEEN``.
    highValue: Scalar | None = None

    def matches(self, contact: CrmContact) -> bool:
        system = SYSTEM_PROPERTIES.get(self.propertyName)
        if system is not None:
            return self._matches_number(system(contact))
        actual = contact.properties.get(self.propertyName)
        if self.operator in RANGE_OPERATORS:
            number = _number_or_none(actual)
            return number is not None and self._matches_number(number)
        if self.operator == "HAS_PROPERTY":
            return actual is not None
        if self.operator == "NOT_HAS_PROPERTY":
            return actual is None
        if self.operator in ("IN", "NOT_IN"):
            hit = actual is not None and any(
                self._equal(actual, value) for value in self.values or ()
            )
            return hit == (self.operator == "IN")
        if self.operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(self.value or "").lower().strip("*")
            hit = actual is not None and token in actual.lower()
            return hit == (self.operator == "CONTAINS_TOKEN")
        hit = actual is not None and self.value is not None and self._equal(actual, self.value)
        return hit == (self.operator == "EQ")

    def _matches_number(self, actual: float) -> bool:
        """System properties and range operators compare numbers (dates in milliseconds)."""
        name = self.propertyName
        if self.operator == "HAS_PROPERTY":
            return True
        if self.operator == "NOT_HAS_PROPERTY":
            return False
        if self.operator in ("IN", "NOT_IN"):
            hit = any(actual == system_number(name, value) for value in self.values or ())
            return hit == (self.operator == "IN")
        low = system_number(name, self.value)
        if self.operator in RANGE_OPERATORS:
            high = None if self.highValue is None else system_number(name, self.highValue)
            return in_range(self.operator, actual, low, high)
        return (actual == low) == (self.operator != "NEQ")

    def _equal(self, actual: str, wanted: Scalar) -> bool:
        text = str(wanted).lower() if isinstance(wanted, bool) else str(wanted)
        # Phones compare exactly on the stored string; everything else ignores case.
        if self.propertyName == "phone":
            return actual == text
        return actual.lower() == text.lower()


class FilterGroup(BaseModel):
    """Filters that must all hold (groups are ORed)."""

    model_config = ConfigDict(extra="forbid")

    filters: list[Filter] = Field(default_factory=list, max_length=MAX_FILTERS_PER_GROUP)

    def matches(self, contact: CrmContact) -> bool:
        return all(condition.matches(contact) for condition in self.filters)

    def indexed(self, store: CrmStore) -> list[CrmContact] | None:
        """Candidates from the email or phone index, or None when no filter can use one."""
        for condition in self.filters:
            if condition.operator == "EQ" and condition.value is not None:
                if condition.propertyName == "email":
                    return store.contacts.find("email", str(condition.value).lower())
                if condition.propertyName == "phone":
                    return store.contacts.find("phone", str(condition.value))
        return None


class SearchBody(BaseModel):
    """``POST .../contacts/search``."""

    model_config = ConfigDict(extra="forbid")

    filterGroups: list[FilterGroup] = Field(default_factory=list, max_length=MAX_FILTER_GROUPS)
    properties: list[str] = Field(default_factory=list)
    limit: int = Field(default=10, ge=1, le=MAX_SEARCH_LIMIT)
    after: str | int = "0"
    #: The first sort applies (``lastmodifieddate`` ascending for incremental reads).
    sorts: list[JSON | str] = Field(default_factory=list)
    #: Free text, matched (case-insensitively) inside name, email and phone.
    query: str | None = None


Body = TypeVar("Body", bound=BaseModel)


class BatchInput(BaseModel):
    """One id (or email, with ``idProperty``) to read."""

    model_config = ConfigDict(extra="forbid")

    id: str | int


class BatchReadBody(BaseModel):
    """``POST .../contacts/batch/read``."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[BatchInput] = Field(max_length=MAX_BATCH)
    properties: list[str] = Field(default_factory=list)
    propertiesWithHistory: list[str] = Field(default_factory=list)
    idProperty: str | None = None


def _parse(model: type[Body], data: JSON) -> Body:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()
        )
        raise validation_error(f"Invalid input JSON: {details}") from None


# --- endpoints --------------------------------------------------------------------------


class CrmApi:
    """The CRM endpoints over one ``CrmStore``."""

    def __init__(self, store: CrmStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        """The vendor routes (search and batch before ``{id}``)."""
        base = "/crm/v3/objects/contacts"
        return [
            Route(base, self.list_contacts, methods=["GET"]),
            Route(f"{base}/search", self.search_contacts, methods=["POST"]),
            Route(f"{base}/batch/read", self.batch_read, methods=["POST"]),
            Route(f"{base}/{{id}}", self.get_contact, methods=["GET"]),
        ]

    async def list_contacts(self, request: Request) -> Response:
        """GET /crm/v3/objects/contacts: by numeric id, paged by ``after``."""
        limit = query_int(request, "limit", default=10, low=1, high=100, invalid=validation_error)
        after_token = request.query_params.get("after")
        after = None
        if after_token:
            if not after_token.isdigit():
                raise validation_error(f"Invalid after: {after_token}")
            after = (int(after_token), after_token)
        archived = _archived(request)
        table = self.store.contacts
        page = page_after(
            table.order(),
            after,
            limit,
            descending=False,
            keep=lambda key: table.rows[key[1]].archived == archived,
        )
        properties = _requested_properties(request)
        body: JSON = {
            "results": [render_contact(table.rows[key], properties) for _, key in page.keys]
        }
        if page.more_after:
            token = page.keys[-1][1]
            link = request.url.include_query_params(after=token)
            body["paging"] = {"next": {"after": token, "link": str(link)}}
        return JsonResponse(body)

    async def get_contact(self, request: Request) -> Response:
        """GET /crm/v3/objects/contacts/{id}."""
        contact_id = request.path_params["id"]
        id_property = request.query_params.get("idProperty")
        archived = _archived(request)
        contact = self._lookup(contact_id, id_property, archived)
        if contact is None:
            raise _not_found(contact_id)
        return JsonResponse(render_contact(contact, _requested_properties(request)))

    async def search_contacts(self, request: Request) -> Response:
        """POST /crm/v3/objects/contacts/search."""
        body = _parse(SearchBody, await read_json_object(request, validation_error))
        try:
            offset = int(body.after)
        except ValueError:
            raise validation_error(f"Invalid after: {body.after}") from None
        if offset < 0:
            raise validation_error(f"Invalid after: {body.after}")
        if offset + body.limit > MAX_SEARCH_RESULTS:
            # HubSpot's limit: a client reads further by restarting from the last value seen.
            raise validation_error(
                f"Search pages through at most {MAX_SEARCH_RESULTS} results: restart the search "
                "from the last value of the sort property"
            )
        try:
            order = search_order(body.sorts)
            matches = sorted(self._search(body), key=order)
        except SearchValueError as exc:
            raise validation_error(str(exc)) from None
        chunk = matches[offset : offset + body.limit]
        result: JSON = {
            "total": len(matches),
            "results": [render_contact(c, body.properties or None) for c in chunk],
        }
        if offset + body.limit < min(len(matches), MAX_SEARCH_RESULTS):
            result["paging"] = {"next": {"after": str(offset + body.limit)}}
        return JsonResponse(result)

    async def batch_read(self, request: Request) -> Response:
        """POST /crm/v3/objects/contacts/batch/read: 200, or 207 naming unknown ids."""
        started = now_iso()
        data = await read_json_object(request, validation_error)
        if isinstance(data.get("inputs"), list) and len(data["inputs"]) > MAX_BATCH:
            raise validation_error(f"Batch read accepts at most {MAX_BATCH} inputs")
        body = _parse(BatchReadBody, data)
        archived = _archived(request)
        properties = body.properties or None
        results: list[JSON] = []
        missing: list[str] = []
        seen: set[str] = set()
        for item in body.inputs:
            wanted = str(item.id)
            if wanted in seen:
                continue
            seen.add(wanted)
            contact = self._lookup(wanted, body.idProperty, archived)
            if contact is None:
                missing.append(wanted)
            else:
                results.append(render_contact(contact, properties))
        answer: JSON = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": now_iso(),
        }
        if not missing:
            return JsonResponse(answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                "context": {"ids": missing},
            }
        ]
        return JsonResponse(answer, status_code=207)

    def _lookup(self, value: str, id_property: str | None, archived: bool) -> CrmContact | None:
        contacts = self.store.contacts
        if id_property in (None, "hs_object_id"):
            contact = contacts.get(value)
            return contact if contact is not None and contact.archived == archived else None
        if id_property == "email":
            found = [c for c in contacts.find("email", value.lower()) if c.archived == archived]
            return min(found, key=lambda c: int(c.id), default=None)
        raise validation_error(f"Unsupported idProperty: {id_property}")

    def _search(self, body: SearchBody) -> Iterable[CrmContact]:
        groups = body.filterGroups
        pool: Iterable[CrmContact]
        candidates = [group.indexed(self.store) for group in groups]
        if groups and all(rows is not None for rows in candidates):
            pool = {c.id: c for rows in candidates for c in rows or ()}.values()
        else:
            pool = self.store.contacts
        text = (body.query or "").strip().lower()
        for contact in pool:
            if contact.archived:
                continue
            if groups and not any(group.matches(contact) for group in groups):
                continue
            if text and not _contains_text(contact, text):
                continue
            yield contact


def _number_or_none(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _contains_text(contact: CrmContact, text: str) -> bool:
    return any(
        text in (contact.properties.get(name) or "").lower()
        for name in ("firstname", "lastname", "email", "phone")
    )


# --- OpenAPI ----------------------------------------------------------------------------

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


def create_crm_app(dataset: Dataset, control: SystemControl | None = None) -> Starlette:
    """The CRM system over ``dataset.crm``; faults and stats through ``control``."""
    api = CrmApi(dataset.crm)
    control = control or SystemControl("crm", ERRORS)
    writes = CrmWrites(
        dataset.crm, control.outbox, PROPERTIES, render_contact, validation_error, _not_found
    )
    spec = SystemSpec(
        name="crm",
        title="Sandbox CRM (HubSpot-shaped)",
        description="Contacts, as HubSpot's CRM v3 API shapes them.",
        routes=[*api.routes(), *writes.routes()],
        operations=[*OPERATIONS, *WRITE_OPERATIONS],
        schemas=SCHEMAS,
        security_scheme=BEARER_SCHEME,
        check_key=bearer(API_KEY),
        errors=ERRORS,
    )
    return build_system_app(spec, control)
