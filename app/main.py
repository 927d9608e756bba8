"""The composition root: ``create_app(settings)`` wires store, sources, auth and GraphQL.

The only module that sees every package. What an app opens in its lifespan is
``app.wiring.services``; its probe endpoints ``app.wiring.probes``; how each concept is
built from the whole ``Settings``, the other modules of ``app.wiring``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from strawberry.extensions import ParserCache
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from adapters.registry import SOURCES
from app.exports.downloads import get_export_file
from app.http.authenticated import AuthenticatedGraphQL
from app.http.desktop.routes import desktop
from app.http.draining import CloseWhenDraining, Draining, drain_on_sigterm
from app.http.errors import PresentErrors
from app.http.graphiql import graphiql_assets
from app.http.graphql import GatewayGraphQL
from app.http.handoffs import post_handoff
from app.http.protocol import SelectOperation, http_error, unexpected_error
from app.limits.budget import CostBudget
from app.observability.health import SourceHealth
from app.observability.middleware import ObservabilityMiddleware, ObserveOperation
from app.observability.tracing import build_tracer
from app.secrets.files import SecretFiles
from app.settings import Settings, secrets_directory
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver, webhook_invalidator
from app.webhooks.tenants import tenant_webhook_routes
from app.wiring.metrics import GatewayMetrics
from app.wiring.probes import Probes
from app.wiring.protection import build_query_protection
from app.wiring.resilience import build_resilience
from app.wiring.services import open_services
from app.wiring.sources import tenant_sections
from kernel.models import Source
from resolvers.extensions.validation_cache import ValidatedDocuments, ValidationByText
from resolvers.schema import build_schema

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

#: Distinct documents kept parsed and validated: the desktop sends a handful, over and over.
DOCUMENT_CACHE_SIZE = 512


def create_app(
    settings: Settings,
    *,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    registry: CollectorRegistry | None = None,
    invalidator: RecordInvalidator | None = None,
    span_exporter: SpanExporter | None = None,
    cost_budget: CostBudget | None = None,
) -> Starlette:
    """The gateway as an ASGI app.

    ``transports`` lets tests replace a source's HTTP transport; ``registry`` is where the
    metrics go (a new one per app by default, so that apps never share counters);
    ``invalidator`` replaces the response cache as what webhooks ask to forget a record;
    ``span_exporter`` turns tracing on with that exporter (tests read spans back from it);
    ``cost_budget`` replaces the principals' cost budgets (tests drive its clock).
    """
    metrics = GatewayMetrics.create(registry)
    health = {source: SourceHealth() for source in Source}
    # Per app, not per lifespan: breakers and bulkheads outlive no app and serve all requests.
    resilience = build_resilience(settings, metrics.resilience)
    metrics.resilience.watch(resilience.sources.values())
    metrics.resilience.watch_sharing(
        resilience.sources.values(), lanes=settings.audience != "agents"
    )
    tracer = build_tracer(settings.tracing, span_exporter)
    protection = build_query_protection(
        settings, count_refusal=metrics.count_refusal, budget=cost_budget
    )
    validated = ValidatedDocuments(maxsize=DOCUMENT_CACHE_SIZE)
    schema = build_schema(
        extensions=[
            # First, so that it finishes last and sees the codes PresentErrors gives.
            ObserveOperation,
            # Factories, as strawberry asks; the parsed documents' LRU is at module level,
            # the validated ones' is this app's: both are shared across requests.
            lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationByText(validated),
            # After it: adds its refusal to the (cached) validation errors.
            SelectOperation,
            PresentErrors,
            # After PresentErrors, so that they finish before it: it presents their refusals.
            *protection.extensions,
        ]
    )
    graphql = GatewayGraphQL(
        schema,
        graphql_ide="graphiql" if protection.graphiql else None,
        allow_queries_via_get=False,
        persisted_queries=protection.persisted_queries,
        count_refusal=metrics.count_refusal,
        audience=settings.audience,
        charge=protection.charge,
        # Over WebSocket graphql-transport-ws only (the legacy graphql-ws protocol has no
        # authenticated connection_init of ours: app/http/websocket.py); over HTTP, streamed
        # as multipart parts or server-sent events, the token in the headers as for a query.
        subscription_protocols=(
            GRAPHQL_TRANSPORT_WS_PROTOCOL,
            MULTIPART_SUBSCRIPTION_PROTOCOL,
            GRAPHQL_SSE_PROTOCOL,
        ),
        connection_init_wait_timeout=timedelta(seconds=settings.live.connection_init_wait_seconds),
        max_subscriptions_per_connection=settings.live.max_subscriptions_per_connection,
    )
    endpoint = AuthenticatedGraphQL(
        graphql,
        ide_enabled=protection.graphiql,
        max_body_bytes=protection.max_body_bytes,
        count_refusal=metrics.count_refusal,
        audience=settings.audience,
    )

    draining = Draining(settings.shutdown_drain_seconds)
    # Secret files read again while the app runs: the sources' credentials (their clients,
    # opened in the lifespan) and webhook secrets (the receiver, made now) follow them.
    secret_files = SecretFiles(secrets_directory())
    webhooks = WebhookReceiver(
        settings.webhooks,
        default_region=settings.identity.default_region,
        metrics=metrics.webhooks,
        invalidator_for=webhook_invalidator(invalidator),
        sections={spec.source: settings.source(spec.source) for spec in SOURCES},
        demo=settings.demo,
    )
    for spec in SOURCES:
        secret_files.watch(
            (spec.name,), settings.source(spec.source), partial(webhooks.use_section, spec.source)
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            stack.enter_context(drain_on_sigterm(draining))
            state = await open_services(
                settings,
                stack,
                metrics=metrics,
                resilience=resilience,
                protection=protection,
                tracer=tracer,
                transports=transports,
                secret_files=secret_files,
            )
            # The app's too, not only each request's: tests and embedders reach the cache here.
            app.state.cache = state["cache"]
            app.state.rollout = state["rollout"]
            app.state.rollback_watch = state["rollback_watch"]
            yield state

    probes = Probes(metrics, health, resilience)
    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            # Subscriptions over WebSocket on the same path (HTTP ones take the route above).
            *([WebSocketRoute("/graphql", endpoint)] if settings.live.enabled else []),
            Route("/ivr/handoffs", post_handoff, methods=["POST"]),
            Route("/exports/{export_id}", get_export_file, methods=["GET"]),
            desktop(demo=settings.demo, data_dir=settings.data_dir, auth=settings.auth),
            # GraphiQL's assets, where GraphiQL is on (demo mode): no CDN needed.
            *([graphiql_assets()] if protection.graphiql else []),
            Route("/healthz", probes.healthz, methods=["GET"]),
            Route("/readyz", probes.readyz, methods=["GET"]),
            Route("/metrics", probes.metrics, methods=["GET"]),
            # Not behind the bearer token: each vendor's signature authenticates its webhooks.
            *webhooks.routes(),
            # Each other tenant's, checked with its own secrets (/webhooks/<tenant>/<source>).
            *tenant_webhook_routes(
                settings.webhooks,
                {
                    tenant: tenant_sections(settings, tenant)
                    for tenant in settings.tenancy.tenants
                    if tenant != settings.tenancy.default_tenant
                },
                default_region=settings.identity.default_region,
                metrics=metrics.webhooks,
                invalidator=invalidator,
                secret_files=secret_files,
            ),
        ],
        # The outermost of ours: the id is on every response, a 401 or a 404 included
        # (Starlette's own 500 page, outside it, goes without).
        middleware=[
            Middleware(
                ObservabilityMiddleware,
                metrics=metrics,
                health=health,
                deadline_seconds=settings.request_deadline_seconds,
                tracer=tracer,
            ),
            Middleware(CloseWhenDraining, draining=draining),
        ],
        # Every answer in GraphQL's error shape: Starlette's 404 and 405 and, should a defect
        # escape every handler, its 500 (the exception still reaches the server's log).
        exception_handlers={HTTPException: http_error, Exception: unexpected_error},
        lifespan=lifespan,
    )


def app_from_environment() -> Starlette:
    """One worker's app, for ``uvicorn --factory`` (``scv serve`` with ``SCV_WORKERS`` > 1).

    Each worker process builds its own settings from the same environment and its own app.
    """
    from app.observability.collector import settle_for_serving
    from app.observability.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    settle_for_serving()
    return app
