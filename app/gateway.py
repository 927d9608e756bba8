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
from app.observability import current_request
from resolvers.context import RequestContext, Sources, new_context
from resolvers.identity import IdentityStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the lifespan builds once and every request reads: the wiring of the gateway."""

    store: IdentityStore
    sources: Sources
    verifier: TokenVerifier
    default_region: str


class GatewayGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view, with our context and a fast JSON encoder."""

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        state: GatewayState = request.state.gateway
        return new_context(
            principal=request.state.principal,
            store=state.store,
            sources=state.sources,
            default_region=state.default_region,
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


def _unauthorized(reason: str) -> Response:
    return JSONResponse(
        {"errors": [{"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )
