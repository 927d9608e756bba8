"""The GraphQL endpoint: strawberry behind the bearer check (``app.http.authenticated``), one
context per request."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionResult

from app.http.graphiql import offline_graphiql_html
from app.http.protocol import (
    GRAPHQL_RESPONSE,
    JSON,
    content_type,
    is_request_error,
    negotiate,
    request_error_status,
    transport_refusal,
    unknown_operation,
)
from app.http.state import (
    INTERACTION_TOKEN_HEADER,
    PURPOSE_HEADER,
    GatewayState,
    authorise_interaction,
)
from app.http.websocket import AuthenticatedTransportWS, ConnectionRefused, TextFrames
from app.interactions.tokens import InteractionTokenError
from app.limits.checks import present_parse_refusal
from app.limits.persisted_queries import PersistedQueries, PersistedQueryError
from app.limits.refusal import QueryRefused
from app.observability.middleware import current_request
from app.resilience.fair_share import Audience, admits
from app.security.auth import AuthenticationError, bearer_token
from app.tenancy.selection import choose_tenant
from app.whole_response.cache import Charge
from kernel.access import ActiveInteraction, Principal
from kernel.client_errors import BadUserInput
from kernel.tenancy import TenantForbidden, TenantId, TenantRequired
from resolvers.context import RequestContext, new_context
from resolvers.extensions.masking import stated_purpose

logger = logging.getLogger(__name__)

#: Who a WebSocket is until its ``connection_init`` names someone: a role that may do nothing
#: (strawberry refuses every operation before the connection is acknowledged anyway).
NOBODY = Principal(subject="", role="")


class GatewayGraphQL(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view, with our context and a fast JSON encoder."""

    @property
    def graphql_ide_html(self) -> str:
        """strawberry's GraphiQL page, its assets served by the gateway (``/graphiql/``)."""
        return self._ide_html

    graphql_transport_ws_handler_class = AuthenticatedTransportWS
    websocket_adapter_class = TextFrames

    async def get_context(self, request: Request | WebSocket, response: Any) -> RequestContext:
        # A WebSocket's principal comes with its connection_init (AuthenticatedTransportWS).
        # ``state`` read once: starlette's property is three Python calls a read, on every
        # request (``bench.calls --case lookup_by_phone``).
        state = request.state
        return self.context_for(
            request,
            principal=getattr(state, "principal", NOBODY),
            tenant=getattr(state, "tenant", None),
            interaction=getattr(state, "interaction", None),
            purpose=getattr(state, "purpose", None),
            token_expires_at=getattr(state, "token_expires_at", None),
        )

    async def open_connection(
        self, websocket: WebSocket, params: Mapping[str, object]
    ) -> RequestContext:
        """A WebSocket's context from its ``connection_init`` (``app.http.websocket``): the
        tokens it carries (or the handshake's headers) checked as a request's headers are."""
        state: GatewayState = websocket.state.gateway

        def param(name: str) -> str | None:
            value = params.get(name, websocket.headers.get(name))
            return value if isinstance(value, str) else None

        try:
            principal, expires_at = await state.verifier.verify_expiring(
                bearer_token(param("authorization"))
            )
            if not admits(self._audience, principal.role):
                raise ConnectionRefused(WRONG_PORT)
            tenant = choose_tenant(principal, param(state.tenancy.header), state.tenancy)
            purpose = stated_purpose(param(PURPOSE_HEADER))
            interaction_token = param(INTERACTION_TOKEN_HEADER)
            interaction = (
                await authorise_interaction(state.for_tenant(tenant), interaction_token, principal)
                if interaction_token is not None
                else None
            )
        except (
            AuthenticationError,
            InteractionTokenError,
            BadUserInput,
            TenantRequired,
            TenantForbidden,
        ) as exc:
            raise ConnectionRefused(str(exc)) from exc
        return self.context_for(
            websocket,
            principal=principal,
            tenant=tenant,
            interaction=interaction,
            purpose=purpose,
            token_expires_at=expires_at,
        )

    def context_for(
        self,
        request: Request | WebSocket,
        *,
        principal: Principal,
        tenant: TenantId | None,
        interaction: ActiveInteraction | None,
        purpose: str | None,
        token_expires_at: float | None,
    ) -> RequestContext:
        """The context of one request (or WebSocket connection) of ``principal``, acting
        for ``tenant``: everything it reaches is that tenant's."""
        state: GatewayState = request.state.gateway.for_tenant(tenant)
        return new_context(
            principal=principal,
            tenant=tenant,
            boundary=state.boundary,
            store=state.store,
            sources=state.sources,
            default_region=state.default_region,
            interaction=interaction,
            interactions=state.interactions,
            live_linker=state.live_linker,
            identity_decisions=state.identity_decisions,
            audit=state.audit,
            audit_trail=state.audit_trail,
            facts=state.facts,
            panel_concurrency=state.panel_concurrency,
            exports=state.exports,
            evidence=state.evidence,
            data_quality=state.data_quality,
            writes=state.writes,
            rollout=state.rollout,
            kpis=state.kpis,
            purpose=purpose,
            request_id=record.request_id if (record := current_request.get()) else None,
            client_address=request.client.host if request.client else None,
            live=state.live,
            token_expires_at=token_expires_at,
        )

    def __init__(
        self,
        schema: BaseSchema,
        *,
        persisted_queries: PersistedQueries | None = None,
        count_refusal: Callable[[str], None] | None = None,
        audience: Audience = "all",
        charge: Charge | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self._audience: Audience = audience
        self._persisted = persisted_queries
        self._charge: Charge = charge or _free
        self._count_refusal = count_refusal or (lambda code: None)
        # Made once, at start-up: a page naming an asset the gateway lacks stops it here.
        self._ide_html = offline_graphiql_html(super().graphql_ide_html) if self.graphql_ide else ""

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Resolves a persisted query (APQ, allow list) into its document, or refuses it
        before strawberry sees it; registers an APQ document once it ran."""
        if self._persisted is None:
            return await self._answer(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        try:
            resolved = await self._persisted.resolve(request_data.query, request_data.extensions)
        except PersistedQueryError as exc:
            self._count_refusal(exc.code)
            return ExecutionResult(
                data=None, errors=[GraphQLError(exc.message, extensions=exc.extensions())]
            )
        result = await self._answer(
            request,
            request_adapter,
            sub_response,
            context,
            root_value,
            replace(request_data, query=resolved.query),
        )
        # Ran (data, even partial): it parses and validates, so it may be kept.
        if resolved.register_as is not None and resolved.query and result.data is not None:
            await self._persisted.register(resolved.register_as, resolved.query)
        return result

    async def _answer(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """A kept answer for the same disclosure (audited as this caller's), or the query
        executed, and its answer kept when it may be (``app.whole_response``)."""
        state: GatewayState = request.state.gateway
        cache = state.whole_response
        key = (
            None
            if cache is None
            else await cache.key_for(
                request_data.query, request_data.operation_name, request_data.variables, context
            )
        )
        if cache is None or key is None:
            return await self._execute(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        data = await cache.reuse(key, context, self._charge)
        if isinstance(data, QueryRefused):
            self._count_refusal(data.code)
            # Presented here: no extension runs for an answer served again.
            refusal = GraphQLError(data.message, extensions=data.extensions())
            return ExecutionResult(data=None, errors=[refusal])
        if data is not None:
            return ExecutionResult(data=data, errors=None)
        with cache.filling(await cache.links_generation()) as filling:
            result = await self._execute(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        await cache.keep(key, filling, result, context)
        return result

    async def _execute(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: RequestContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """strawberry's execution; an ``operationName`` the document lacks is a request error
        in GraphQL's shape, not a bare 400."""
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            name = request_data.operation_name
            # A name that is not a string is a malformed request: the 400 stays.
            if not isinstance(exc.__cause__, CannotGetOperationTypeError) or not isinstance(
                name, str
            ):
                raise
            return ExecutionResult(data=None, errors=[unknown_operation(name)])

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.errors:
            result.errors = [present_parse_refusal(error) for error in result.errors]
            for error in result.errors:
                if (error.extensions or {}).get("code") == "TOO_MANY_TOKENS":
                    self._count_refusal("TOO_MANY_TOKENS")
        answer = await super().process_result(request, result)
        sub_response: Response | None = getattr(request.state, "graphql_sub_response", None)
        if (
            sub_response is not None
            and sub_response.media_type == GRAPHQL_RESPONSE
            and is_request_error(result.data, result.errors)
        ):
            # Nothing executed: the spec's 4xx, and no data entry at all.
            sub_response.status_code = request_error_status(result.errors or [])
            answer.pop("data", None)
        return answer

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = negotiate(request.headers.get("accept"))
        # process_result sees the request only: the status it decides goes here.
        request.state.graphql_sub_response = sub_response
        return sub_response

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = content_type(sub_response.media_type or JSON)
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """strawberry's view, its refusals of the HTTP request in GraphQL's error shape (it
        answers them in plain text)."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            media_type = negotiate(request.headers.get("accept"))
            response = transport_refusal(exc.status_code, exc.reason, media_type)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> bytes:
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            # orjson stops at 64-bit integers; a measure can pass them (a query's cost, the
            # product of its lists' sizes, when the limits allow deep documents). The
            # standard library writes any integer, at its own pace, for these rare answers.
            return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


async def _free(role: str, subject: str, cost: int) -> QueryRefused | None:
    """No budget: an answer served again is never refused."""
    return None


#: The code of a request sent to the process group that does not serve its role.
WRONG_PORT = "WRONG_PORT"
