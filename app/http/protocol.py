"""GraphQL over HTTP as the spec has it (https://graphql.github.io/graphql-over-http/).

- The media type: ``application/graphql-response+json`` when the client's ``Accept`` prefers
  it, else ``application/json`` (no ``Accept``, ``*/*``, or only types we do not serve:
  the spec's legacy default). Both in UTF-8.
- The status: under ``application/graphql-response+json`` a request error (the document
  does not parse or validate, a variable does not coerce, no operation can be chosen, a
  limit refused it: nothing executed) is 4xx and its body has no ``data``; once execution
  started it is 200, errors or not. Under ``application/json`` every GraphQL answer is 200,
  as the spec allows for legacy clients.
- Refusals before GraphQL runs (a body that is not JSON, a content type we do not read, a
  method we do not serve, a path with no route) and a defect that escapes everything: JSON
  in the GraphQL error shape, never text.
- The operation: a document with several operations and no ``operationName`` is refused
  (``OPERATION_RESOLUTION_FAILURE``; strawberry would run the first), as is an
  ``operationName`` the document does not define.

``Accept`` is parsed here rather than by a library: Starlette has no content negotiation, and
two media types with their ``q`` values need no more than this module's few lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from graphql import GraphQLError, OperationDefinitionNode
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from app.http.responses import error_response

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
#: What a request may accept, by preference when its ``q`` values tie.
SERVED = (GRAPHQL_RESPONSE, JSON)

#: The code when no operation of the document can be chosen (Apollo's name for it).
OPERATION_RESOLUTION_FAILURE = "OPERATION_RESOLUTION_FAILURE"

#: Request errors whose status is not 400, by code.
REQUEST_ERROR_STATUS: Mapping[str, int] = {"RATE_LIMITED": 429}

#: Refusals of the HTTP request itself (strawberry's), by status: their codes.
TRANSPORT_CODES: Mapping[int, str] = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
#: strawberry refuses an unknown content type with 400; HTTP has a status of its own for it.
_UNSUPPORTED_CONTENT_TYPE = "Unsupported content type"


def negotiate(accept: str | None) -> str:
    """The media type to answer in, from an ``Accept`` header: of the types we serve, the
    one with the highest ``q``, the first listed on a tie; ``application/json`` otherwise."""
    offered = []
    for position, item in enumerate((accept or "").split(",")):
        kind, _, parameters = item.strip().partition(";")
        kind = kind.strip().lower()
        q = _quality(parameters)
        if kind in SERVED and q > 0:
            offered.append((q, -position, kind))
    return max(offered)[2] if offered else JSON


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


def is_request_error(data: object, errors: Sequence[GraphQLError] | None) -> bool:
    """Whether a result (its ``data`` and ``errors``) answers a request that never executed:
    no data, and no error with a path (a field's error always has one)."""
    return data is None and bool(errors) and all(not e.path for e in errors or ())


def request_error_status(errors: Sequence[GraphQLError]) -> int:
    """The 4xx of a request error under ``application/graphql-response+json``."""
    for error in errors:
        status = REQUEST_ERROR_STATUS.get(str((error.extensions or {}).get("code")))
        if status is not None:
            return status
    return 400


def content_type(media_type: str) -> str:
    return f"{media_type}; charset=utf-8"


def transport_refusal(status: int, reason: str, media_type: str) -> Response:
    """strawberry's refusal of the HTTP request (``HTTPException``), as GraphQL's error shape."""
    if reason == _UNSUPPORTED_CONTENT_TYPE:
        status = 415
    code = TRANSPORT_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_SERVER_ERROR")
    response = error_response(status, code, reason)
    response.headers["content-type"] = content_type(media_type)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route: 404, a method a route does not serve: 405),
    in GraphQL's error shape like every other answer of the gateway."""
    assert isinstance(exc, StarletteHTTPException)
    code = TRANSPORT_CODES.get(exc.status_code, "BAD_REQUEST")
    response = error_response(exc.status_code, code, exc.detail, **(exc.headers or {}))
    response.headers["content-type"] = content_type(negotiate(request.headers.get("accept")))
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    """The answer when a defect escapes every handler: JSON, and nothing of the exception
    (Starlette's ``ServerErrorMiddleware`` still raises it on, to the server's log)."""
    return error_response(500, "INTERNAL_SERVER_ERROR", "Internal server error.")


def unknown_operation(name: str) -> GraphQLError:
    return GraphQLError(
        f"the document has no operation named {name!r}",
        extensions={"code": OPERATION_RESOLUTION_FAILURE},
    )


class SelectOperation(SchemaExtension):
    """Refuses a document of several operations sent without ``operationName``.

    After validation's errors are known (put it after the validation cache): it adds its
    refusal to them, so nothing executes.
    """

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        # The name the client sent: strawberry's ``operation_name`` falls back to the first
        # operation's, which is the very choice to refuse.
        sent_name = getattr(context, "_provided_operation_name", None)
        if sent_name is None and document is not None:
            operations = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
            if operations > 1:
                refusal = GraphQLError(
                    f"the document has {operations} operations: operationName must name the "
                    "one to run",
                    extensions={"code": OPERATION_RESOLUTION_FAILURE},
                )
                # A new list: the validation cache's own is shared by other requests.
                context.pre_execution_errors = [*(context.pre_execution_errors or ()), refusal]
        yield
