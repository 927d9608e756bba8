"""The bearer check in front of the GraphQL endpoint: a request without a valid token, on the
wrong port, for a tenant it may not act for or with a bad interaction token is refused before
GraphQL sees it."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.cache.stale_if_slow import Patience, patience
from app.http.body_limit import CODE as BODY_TOO_LARGE
from app.http.body_limit import limited_receive, too_large
from app.http.graphql import WRONG_PORT, GatewayGraphQL
from app.http.responses import UNAUTHENTICATED_HEADERS, error_response
from app.http.state import (
    INTERACTION_TOKEN_HEADER,
    PURPOSE_HEADER,
    GatewayState,
    authorise_interaction,
)
from app.interactions.tokens import InteractionTokenError
from app.observability.middleware import current_request
from app.resilience.fair_share import Audience, admits, traffic_class, traffic_class_of
from app.security.auth import AuthenticationError, bearer_token
from app.tenancy.selection import choose_tenant, refusal_status
from kernel.client_errors import BadUserInput
from kernel.tenancy import TenantForbidden, TenantRequired
from resolvers.extensions.masking import stated_purpose


class AuthenticatedGraphQL:
    """Refuses a request without a valid bearer token (401) before GraphQL sees it.

    The GraphiQL page itself (a GET asking for HTML) carries no data and is served without a
    token when the IDE is on; every query it sends needs one like any other client's.
    """

    def __init__(
        self,
        graphql: GatewayGraphQL,
        *,
        ide_enabled: bool,
        max_body_bytes: int | None = None,
        count_refusal: Callable[[str], None] | None = None,
        audience: Audience = "all",
    ) -> None:
        self._graphql = graphql
        self._ide_enabled = ide_enabled
        self._max_body_bytes = max_body_bytes
        self._count_refusal = count_refusal or (lambda code: None)
        self._audience: Audience = audience

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            # The token comes in the connection_init message (AuthenticatedTransportWS): a
            # browser cannot set headers on a WebSocket.
            await self._graphql(scope, receive, send)
            return
        if scope["type"] != "http":
            await Response("not found", status_code=404)(scope, receive, send)
            return
        if self._max_body_bytes is not None:
            # First: a body too large is refused before it is read whole, let alone parsed.
            limited = await limited_receive(scope, receive, self._max_body_bytes)
            if limited is None:
                self._count_refusal(BODY_TOO_LARGE)
                await too_large(self._max_body_bytes)(scope, receive, send)
                return
            receive = limited
        request = Request(scope, receive)
        if self._ide_enabled and self._is_ide_page(request):
            await (await self._graphql.render_graphql_ide(request))(scope, receive, send)
            return
        state: GatewayState = request.state.gateway
        try:
            token = bearer_token(request.headers.get("authorization"))
            principal, expires_at = await state.verifier.verify_expiring(token)
        except AuthenticationError as exc:
            await _unauthorized(str(exc))(scope, receive, send)
            return
        if not admits(self._audience, principal.role):
            self._count_refusal(WRONG_PORT)
            await _wrong_port(self._audience)(scope, receive, send)
            return
        try:
            tenant = choose_tenant(
                principal, request.headers.get(state.tenancy.header), state.tenancy
            )
        except (TenantRequired, TenantForbidden) as exc:
            self._count_refusal(exc.code)
            await error_response(refusal_status(exc), exc.code, exc.message)(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        scope["state"]["tenant"] = tenant
        scope["state"]["token_expires_at"] = expires_at
        try:
            scope["state"]["purpose"] = stated_purpose(request.headers.get(PURPOSE_HEADER))
        except BadUserInput as exc:
            await _bad_request(exc.message)(scope, receive, send)
            return
        interaction_token = request.headers.get(INTERACTION_TOKEN_HEADER)
        if interaction_token is not None:
            try:
                active = await authorise_interaction(
                    state.for_tenant(tenant), interaction_token, principal
                )
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
            record.tenant = tenant or "platform"
        # Which lane of each source's bulkhead this request's upstream calls take.
        class_token = traffic_class.set(traffic_class_of(principal.role))
        # How long its cached reads wait for a slow system (app.cache.stale_if_slow).
        patience_token = patience.set(Patience(principal.role))
        try:
            await self._graphql(scope, receive, send)
        finally:
            patience.reset(patience_token)
            traffic_class.reset(class_token)

    @staticmethod
    def _is_ide_page(request: Request) -> bool:
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and "query" not in request.query_params
        )


def _bad_request(reason: str) -> Response:
    return error_response(400, "BAD_USER_INPUT", reason)


def _wrong_port(audience: Audience) -> Response:
    reason = (
        "this port serves analysts only; other roles use the gateway's main port"
        if audience == "analysts"
        else "analysts are served on the analyst port (SCV_ANALYST_PORT), not this one"
    )
    return error_response(421, WRONG_PORT, reason)


def _unauthorized(reason: str, code: str = "UNAUTHENTICATED") -> Response:
    return error_response(401, code, reason, **UNAUTHENTICATED_HEADERS)
