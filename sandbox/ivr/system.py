"""The IVR platform, shaped like Amazon Connect: contacts (calls) and their attributes.

Attributes are the flat string map an IVR flow sets on a contact (caller number, how the
caller was identified and verified). Contacts are listed oldest first with ``NextToken``.
"""

from __future__ import annotations

import bisect
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.control import SystemControl
from sandbox.entry import HttpSystem, http_system
from sandbox.ivr.handoff import HandoffIssuer
from sandbox.openapi import INTEGER, STRING, Operation, Param, nullable, obj, ref
from sandbox.records import Dataset, IvrContact, IvrStore
from sandbox.responses import (
    JSON,
    JsonResponse,
    VendorError,
    VendorErrors,
    decode_cursor,
    encode_cursor,
    iso,
    query_int,
)
from sandbox.system import SystemSpec, build_system_app, header_key

API_KEY = "ivr-sandbox-key"
API_KEY_HEADER = "x-api-key"
MAX_RESULTS = 100


# --- errors -----------------------------------------------------------------------------


def aws_error(status: int, type_: str, message: str) -> VendorError:
    """An error in the AWS JSON protocol's shape: ``{"__type": ..., "Message": ...}``."""
    return VendorError(status, {"__type": type_, "Message": message})


def invalid_parameter(message: str) -> VendorError:
    """The 400 for a bad parameter."""
    return aws_error(400, "InvalidParameterException", message)


def _rate_limited(retry_after: int) -> VendorError:
    error = aws_error(429, "ThrottlingException", "Rate exceeded")
    error.headers["Retry-After"] = str(retry_after)
    return error


ERRORS = VendorErrors(
    # The API gateway in front answers 401 before the service sees the request.
    unauthorized=lambda: VendorError(401, {"message": "Unauthorized"}),
    server_error=lambda status: aws_error(
        status,
        "InternalServiceException" if status == 500 else "ServiceUnavailableException",
        "Injected by the sandbox",
    ),
    rate_limited=_rate_limited,
    unknown_route=lambda status, message: aws_error(status, "UnknownOperationException", message),
)


# --- rendering --------------------------------------------------------------------------


def render_summary(contact: IvrContact) -> JSON:
    """A contact as a ``ContactSummaryList`` entry."""
    return {
        "Id": contact.id,
        "InitiationTimestamp": iso(contact.initiated),
        "Channel": contact.channel,
        "CustomerEndpoint": {"Address": contact.caller_number, "Type": "TELEPHONE_NUMBER"},
    }


def _parse_since(raw: str) -> int:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(f"since is not an ISO 8601 timestamp: {raw}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _parse_token(token: str) -> tuple[int, str]:
    try:
        initiated, contact_id = decode_cursor(token)
    except ValueError:
        raise invalid_parameter(f"Invalid NextToken: {token}") from None
    if not isinstance(initiated, int) or not isinstance(contact_id, str):
        raise invalid_parameter(f"Invalid NextToken: {token}")
    return (initiated, contact_id)


# --- endpoints --------------------------------------------------------------------------


class IvrApi:
    """The IVR endpoints over one ``IvrStore``."""

    def __init__(self, store: IvrStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        """The vendor routes."""
        return [
            Route("/contacts", self.list_contacts, methods=["GET"]),
            Route("/contacts/{contact_id}/attributes", self.get_attributes, methods=["GET"]),
        ]

    async def get_attributes(self, request: Request) -> Response:
        """GET /contacts/{contact_id}/attributes."""
        contact_id = request.path_params["contact_id"]
        contact = self.store.contacts.get(contact_id)
        if contact is None:
            raise aws_error(404, "ResourceNotFoundException", f"Contact not found: {contact_id}")
        return JsonResponse({"Attributes": dict(contact.attributes)})

    async def list_contacts(self, request: Request) -> Response:
        """GET /contacts: since ``since``, oldest first, paged by ``NextToken``."""
        limit = query_int(
            request,
            "MaxResults",
            default=MAX_RESULTS,
            low=1,
            high=MAX_RESULTS,
            invalid=invalid_parameter,
        )
        table = self.store.contacts
        order = table.order()
        since = request.query_params.get("since")
        start = 0 if not since else bisect.bisect_left(order, (_parse_since(since), ""))
        token = request.query_params.get("NextToken")
        if token:
            start = max(start, bisect.bisect_right(order, _parse_token(token)))
        keys = order[start : start + limit]
        more = start + limit < len(order)
        return JsonResponse(
            {
                "ContactSummaryList": [render_summary(table.rows[key]) for _, key in keys],
                "NextToken": encode_cursor(*keys[-1]) if more and keys else None,
            }
        )


# --- OpenAPI ----------------------------------------------------------------------------

_ERROR = ref("Error")
SCHEMAS: dict[str, JSON] = {
    "Attributes": obj({"Attributes": {"type": "object", "additionalProperties": STRING}}),
    "ContactSummary": obj(
        {
            "Id": STRING,
            "InitiationTimestamp": {**STRING, "format": "date-time"},
            "Channel": {"enum": ["VOICE", "CHAT", "TASK"]},
            "CustomerEndpoint": obj({"Address": nullable(STRING), "Type": STRING}),
        }
    ),
    "ContactList": obj(
        {
            "ContactSummaryList": {"type": "array", "items": ref("ContactSummary")},
            "NextToken": nullable(STRING),
        }
    ),
    "Error": obj({"__type": STRING, "Message": STRING}),
    "Unauthorized": obj({"message": STRING}),
}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        "/contacts/{contact_id}/attributes",
        "The attributes the IVR flow set on a contact",
        {
            200: ("The attributes", ref("Attributes")),
            401: ("Missing or wrong API key", ref("Unauthorized")),
            404: ("No such contact", _ERROR),
        },
    ),
    Operation(
        "GET",
        "/contacts",
        "Contacts initiated at or after `since`, oldest first",
        {
            200: ("A page of contacts", ref("ContactList")),
            400: ("Bad parameter", _ERROR),
            401: ("Missing or wrong API key", ref("Unauthorized")),
        },
        params=(
            Param(
                "since", "ISO 8601 timestamp (UTC if no offset)", {**STRING, "format": "date-time"}
            ),
            Param(
                "MaxResults",
                "Page size, 1..100 (default 100)",
                {**INTEGER, "minimum": 1, "maximum": MAX_RESULTS},
            ),
            Param("NextToken", "NextToken of the previous page"),
        ),
    ),
)


def create_ivr_app(
    dataset: Dataset, control: SystemControl | None = None, *, api_key: str = API_KEY
) -> Starlette:
    """The IVR system over ``dataset.ivr``; faults and stats through ``control``;
    ``api_key`` is the account\'s key (another account of the system has its own)."""
    api = IvrApi(dataset.ivr)
    # The IVR also signs handoffs of the calls it plays (sandbox/ivr/handoff.py).
    handoffs = HandoffIssuer(dataset)
    spec = SystemSpec(
        name="ivr",
        title="Sandbox IVR (Amazon Connect-shaped)",
        description="Contacts and their attributes, as Amazon Connect shapes them.",
        routes=[*api.routes(), *handoffs.routes()],
        operations=OPERATIONS,
        schemas=SCHEMAS,
        security_scheme={"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
        check_key=header_key(API_KEY_HEADER, api_key),
        errors=ERRORS,
    )
    return build_system_app(spec, control or SystemControl("ivr", ERRORS))


#: Its entry in the sandbox-system registry (``sandbox/registry.py``).
SYSTEM = http_system("ivr", HttpSystem(create_ivr_app, ERRORS, listings=("ivr.contacts",)))
