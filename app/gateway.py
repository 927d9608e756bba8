"""The GraphQL endpoint: the bearer check in front, strawberry behind, one context per request."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.auth import AuthenticationError, TokenVerifier, bearer_token
from app.interaction_tokens import InteractionTokenError
from app.interactions import Interactions
from app.observability import current_request
from resolvers.access import AuditReader, AuditSink
from resolvers.context import RequestContext, Sources, new_context
from resolvers.errors import BadUserInput
from resolvers.identity import IdentityStore
from resolvers.masking import stated_purpose

logger = logging.getLogger(__name__)

#: The header in which a supervisor states why they read personal data (audited).
PURPOSE_HEADER = "x-purpose"

#: The header that carries an interaction grant's token, beside the bearer token.
INTERACTION_TOKEN_HEADER = "x-interaction-token"


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the lifespan builds once and every request reads: the wiring of the gateway."""

    store: IdentityStore
    sources: Sources
    verifier: TokenVerifier
    default_region: str
    #: IVR handoffs and agents' interactions (``X-Interaction-Token``); None where not wired.
    interactions: Interactions | None = None
    #: Where reads of personal data are recorded, and read back; None where not wired (then
    #: nothing is recorded: ``create_app`` always wires both).
    audit: AuditSink | None = None
    audit_trail: AuditReader | None = None


class GatewayGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view, with our context and a fast JSON encoder."""

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        state: GatewayState = request.state.gateway
        return new_context(
            principal=request.state.principal,
            store=state.store,
            sources=state.sources,
            default_region=state.default_region,
            interaction=getattr(request.state, "interaction", None),
            interactions=state.interactions,
            audit=state.audit,
            audit_trail=state.audit_trail,
            purpose=getattr(request.state, "purpose", None),
            request_id=record.request_id if (record := current_request.get()) else None,
            client_address=request.client.host if request.client else None,
        )

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)


class AuthenticatedGraphQL:
    """Refuses a request without a valid bearer token (401) before GraphQL sees it.

    The GraphiQL page itself (a GET asking for HTML) carries no data and is served without a
    token when the IDE is on; every query it sends needs one like any other client's.
    """

    def __init__(self, graphql: GatewayGraphQL, *, ide_enabled: bool) -> None:
        self._graphql = graphql
        self._ide_enabled = ide_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response("not found", status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        if self._ide_enabled and self._is_ide_page(request):
            await (await self._graphql.render_graphql_ide(request))(scope, receive, send)
            return
        state: GatewayState = request.state.gateway
        try:
            token = bearer_token(request.headers.get("authorization"))
            principal = await state.verifier.verify(token)
        except AuthenticationError as exc:
            await _unauthorized(str(exc))(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        try:
            scope["state"]["purpose"] = stated_purpose(request.headers.get(PURPOSE_HEADER))
        except BadUserInput as exc:
            await _bad_request(exc.message)(scope, receive, send)
            return
        interaction_token = request.headers.get(INTERACTION_TOKEN_HEADER)
        if interaction_token is not None:
            try:
                if state.interactions is None:
                    raise InteractionTokenError("interactions are not enabled")
                active = await state.interactions.authorise(interaction_token.strip(), principal)
            except InteractionTokenError as exc:
                # Refused outright rather than ignored: the desktop must learn that it no
                # longer acts within the call (transferred, ended, expired).
                await _unauthorized(str(exc), code="INTERACTION_TOKEN_INVALID")(
                    scope, receive, send
                )
                return
            scope["state"]["interaction"] = active
        record = current_request.get()
        if record is not None:
            record.role = principal.role
        await self._graphql(scope, receive, send)

    @staticmethod
    def _is_ide_page(request: Request) -> bool:
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )


def _bad_request(reason: str) -> Response:
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"code": "BAD_USER_INPUT"}}]},
        status_code=400,
    )


def _unauthorized(reason: str, code: str = "UNAUTHENTICATED") -> Response:
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"code": code}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
