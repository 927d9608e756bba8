"""What the gateway's endpoints share outside GraphQL's own answers (IVR handoffs, export
downloads, and the GraphQL endpoint's refusals before GraphQL runs): errors in the shape
GraphQL gives its own, and the bearer check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.observability.middleware import current_request
from app.security.auth import AuthenticationError, TokenVerifier, bearer_token
from kernel.access import Principal

#: What a 401 tells the client (RFC 6750): the bearer token is missing or not valid.
UNAUTHENTICATED_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def error_response(status: int, code: str, message: str, **headers: str) -> Response:
    """``{"errors": [{"message", "extensions": {"code"}}]}`` with ``status``."""
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers=headers or None,
    )


async def authenticate(request: Request, verifier: TokenVerifier) -> Principal | Response:
    """The principal of the request's bearer token (its role noted for the access log), or
    the 401 to answer with instead."""
    try:
        principal = await verifier.verify(bearer_token(request.headers.get("authorization")))
    except AuthenticationError as exc:
        return error_response(401, "UNAUTHENTICATED", str(exc), **UNAUTHENTICATED_HEADERS)
    record = current_request.get()
    if record is not None:
        record.role = principal.role
    return principal
