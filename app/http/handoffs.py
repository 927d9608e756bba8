"""``POST /ivr/handoffs``: the IVR hands a verified caller over, outside GraphQL.

The body is ``{"handoff": "<compact JWS>"}`` or the JWS itself (``application/jose`` or
text); the caller needs a bearer token with role ``ivr``. 201 with the interaction, or the
refusal's status (400 malformed or ill-typed, 401 not authentic, 403 not the IVR or not what
the IVR platform recorded, or a tenant its token may not act for, 409 replayed or already
handed off, 503 IVR platform down) and
``{"errors": [{"message", "extensions": {"code"}}]}`` as GraphQL shapes its errors.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.http.responses import authenticate, error_response
from app.http.state import GatewayState
from app.observability.middleware import current_request
from app.store.errors import store_outage
from app.tenancy.selection import choose_tenant, refusal_status
from kernel.interactions import Actor, InteractionRefused, InteractionView
from kernel.tenancy import TenantForbidden, TenantRequired

#: A handoff is a few hundred bytes; anything much larger is not one.
MAX_BODY_BYTES = 16 * 1024


def _handoff_of(body: bytes, content_type: str) -> str | None:
    """The JWS in the body, or None when the body is neither shape."""
    if "json" in content_type:
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        handoff = document.get("handoff") if isinstance(document, dict) else None
        return handoff.strip() if isinstance(handoff, str) else None
    try:
        return body.decode("ascii").strip() or None
    except UnicodeDecodeError:
        return None


def render_interaction(view: InteractionView) -> dict[str, object]:
    """The interaction as the IVR sees it: the call, its state and its verification."""
    return {
        "contactId": view.contact_id,
        "state": view.state.value,
        "agent": view.agent,
        "verification": {
            "level": view.level.name,
            "method": view.method,
            "result": view.result,
            "verifiedAt": view.verified_at.isoformat() if view.verified_at else None,
            "by": view.verified_by,
        },
    }


async def post_handoff(request: Request) -> Response:
    """POST /ivr/handoffs."""
    gateway: GatewayState = request.state.gateway
    principal = await authenticate(request, gateway.verifier)
    if isinstance(principal, Response):
        return principal
    if principal.role != "ivr":
        return error_response(403, "FORBIDDEN", "only the IVR hands calls over")
    try:
        tenant = choose_tenant(
            principal, request.headers.get(gateway.tenancy.header), gateway.tenancy
        )
    except (TenantRequired, TenantForbidden) as exc:
        return error_response(refusal_status(exc), exc.code, exc.message)
    # The call is the tenant's: its interaction is in that tenant's store.
    state = gateway.for_tenant(tenant)
    if state.interactions is None:
        return error_response(503, "UNAVAILABLE", "interactions are not enabled")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        return error_response(413, "HANDOFF_TOO_LARGE", "the body is too large for a handoff")
    handoff = _handoff_of(body, request.headers.get("content-type", ""))
    if handoff is None:
        return error_response(
            400, "HANDOFF_MALFORMED", 'send {"handoff": "<compact JWS>"} or the JWS itself'
        )
    record = current_request.get()
    actor = Actor(
        principal=principal,
        request_id=record.request_id if record is not None else None,
        client_address=request.client.host if request.client is not None else None,
        audit=state.audit,
    )
    try:
        view = await state.interactions.submit_handoff(actor, handoff)
    except InteractionRefused as exc:
        return error_response(exc.status, exc.code, exc.message)
    except Exception as exc:
        outage = store_outage(exc)
        if outage is None:
            raise
        return error_response(503, outage.code, outage.message)
    return JSONResponse({"interaction": render_interaction(view)}, status_code=201)
