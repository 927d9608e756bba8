"""The composition root: ``create_app(settings)`` wires store, sources, auth and GraphQL."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import CollectorRegistry, multiprocess
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.extensions import ParserCache

from adapters.registry import SOURCES
from adapters.taxonomy import taxonomies_of
from app.analytics.refresh import FactsUpdater
from app.cache.response_cache import ResponseCache
from app.cache.sources import cached_sources
from app.exports.downloads import ExportDownloads, get_export_file
from app.http.errors import PresentErrors
from app.http.graphql import AuthenticatedGraphQL, GatewayGraphQL, GatewayState
from app.http.handoffs import post_handoff
from app.identity.data_quality import DataQuality
from app.identity.decisions import IdentityDecisionService
from app.identity.live_linking import LiveLinking
from app.identity.metrics import IDENTITY_COUNTS_SECONDS
from app.limits.budget import CostBudget
from app.observability.middleware import ObservabilityMiddleware, ObserveOperation, SourceHealth
from app.observability.tracing import build_tracer
from app.resilience.policy import resilience_for
from app.security.audit import PostgresAuditSink
from app.security.auth import KeyRing, TokenVerifier
from app.security.demo_keys import ensure_demo_keys
from app.settings import Settings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from app.store.embedded import start_embedded_postgres
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.store.identity_view import IdentityViewStore
from app.webhooks.receiver import RecordInvalidator, WebhookReceiver
from app.wiring.exports import start_exports
from app.wiring.interactions import build_interactions
from app.wiring.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from app.wiring.protection import build_query_protection
from app.wiring.sources import build_sources
from kernel.models import Source
from resolvers.extensions.validation_cache import ValidatedDocuments, ValidationByText

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
from kernel.identity_evidence import IdentityEvidence
from resolvers.schema import build_schema

logger = logging.getLogger(__name__)

#: How long /readyz and /metrics wait for the store: a probe must answer quickly.
STORE_PROBE_SECONDS = 1.0

#: Distinct documents kept parsed and validated: the desktop sends a handful, over and over.
DOCUMENT_CACHE_SIZE = 512


async def publish_every_second(publish: Callable[[], None]) -> None:
    """Call ``publish`` now and then every second, until cancelled (the worker's live
    resilience state, in multi-process mode: ``app.resilience.metrics``)."""
    while True:
        try:
            publish()
        except Exception:
            # A metrics file that cannot be written must not stop the next try.
            logger.warning("could not publish this worker's resilience state", exc_info=True)
        await asyncio.sleep(1.0)


async def database_url(settings: Settings) -> str:
    """The configured PostgreSQL, or the embedded one under ``data_dir`` when none is."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return await asyncio.to_thread(start_embedded_postgres, settings.data_dir)


async def build_key_ring(settings: Settings, stack: AsyncExitStack) -> KeyRing:
    """Verification keys from settings; in demo mode with none set, the demo's own key."""
    auth = settings.auth
    if auth.jwks_url is not None:
        jwks_url = auth.jwks_url
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))

        async def fetch_jwks() -> dict[str, object]:
            response = await client.get(jwks_url)
            response.raise_for_status()
            document: dict[str, object] = response.json()
            return document

        return KeyRing(fetch_jwks=fetch_jwks)
    if auth.public_key_pem is not None:
        return KeyRing(static_key=auth.public_key_pem.get_secret_value())
    if auth.public_key_file is not None:
        return KeyRing(static_key=auth.public_key_file.read_text())
    if settings.demo:
        keys = await asyncio.to_thread(ensure_demo_keys, settings.data_dir)
        return KeyRing(static_key=keys.public_pem)
    raise ValueError(
        "no token verification key: set SCV_AUTH__JWKS_URL, SCV_AUTH__PUBLIC_KEY_PEM or "
        "SCV_AUTH__PUBLIC_KEY_FILE (or run in demo mode)"
    )


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
    resilience = resilience_for(settings, events=metrics.resilience)
    metrics.resilience.watch(resilience.sources.values())
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
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            if tracer is not None:
                stack.callback(tracer.shutdown)
            if metrics.resilience.published:
                publisher = asyncio.create_task(publish_every_second(metrics.resilience.publish))
                stack.callback(publisher.cancel)
                # A worker that stops cleanly takes its live gauges with it; one that dies
                # leaves its last published state until the directory is cleared.
                stack.callback(multiprocess.mark_process_dead, os.getpid())
            store = await Store.connect(
                await database_url(settings), pool_size=settings.database_pool_size
            )
            stack.push_async_callback(store.close)
            if protection.redis is not None:
                stack.push_async_callback(protection.redis.aclose)
            await store.migrate()
            audit_trail = AuditTrailStore(store)
            sources = await build_sources(
                settings, stack, transports=transports, resilience=resilience
            )
            verifier = TokenVerifier(settings.auth, await build_key_ring(settings, stack))
            # Customers whose links change between syncs are listed by ``customers`` at once.
            facts_writer = FactsWriter(store.pool)
            live_linker = (
                LiveLinking(
                    store,
                    settings.identity,
                    metrics=metrics.linking,
                    links_changed=facts_writer.ensure_customers,
                )
                if settings.identity.live_linking
                else None
            )
            # Uncached sources: a handoff is confirmed with the IVR platform as it is now.
            interactions = await build_interactions(
                settings,
                stack,
                store,
                sources,
                transports=transports,
                metrics=metrics.interactions,
                live_linker=live_linker,
            )
            metrics.watch_taxonomies(
                taxonomies_of([sources.billing, sources.crm, sources.support, sources.ivr])
            )
            # After the taxonomies are found: the cached adapters wrap the ones that hold them.
            cache = await ResponseCache.open(settings.cache, metrics.cache)
            if settings.cache.enabled and settings.cache.url is None and settings.workers > 1:
                logger.warning(
                    "each of the %d workers caches on its own: a webhook invalidates only the "
                    "worker that receives it; set SCV_CACHE__URL to share a Redis",
                    settings.workers,
                )
            stack.push_async_callback(cache.close)
            if settings.cache.enabled:
                sources = cached_sources(sources, cache)
            # For webhooks (``await cache.invalidate_record(source, id)``) and tests.
            app.state.cache = cache
            facts = PostgresFactsStore(store.pool)
            # Webhooks re-read a changed record's facts through the (just invalidated) cache.
            facts_updater = FactsUpdater(
                store,
                facts_writer,
                sources.billing,
                sources.crm,
                sources.support,
                updates=metrics.facts.updates,
            )
            # Last, so that its workers stop (handing their jobs back) before anything closes.
            export_downloads = await start_exports(
                settings,
                stack,
                store,
                PostgresAuditSink(audit_trail, settings.audit, metrics.audit),
                metrics.exports,
                facts,
            )
            yield {
                "export_downloads": export_downloads,
                "store": store,
                "cache": cache,
                "facts_updater": facts_updater,
                "gateway": GatewayState(
                    store=store,
                    sources=sources,
                    verifier=verifier,
                    default_region=settings.identity.default_region,
                    interactions=interactions,
                    live_linker=live_linker,
                    identity_decisions=IdentityDecisionService(
                        store,
                        metrics=metrics.linking,
                        links_changed=facts_writer.ensure_customers,
                    ),
                    audit=PostgresAuditSink(audit_trail, settings.audit, metrics.audit),
                    audit_trail=audit_trail,
                    exports=export_downloads.exports,
                    facts=facts,
                    panel_concurrency=settings.customers.panel_concurrency,
                    evidence=IdentityEvidence(
                        IdentityViewStore(store), settings.identity.system_of_record.as_mapping()
                    ),
                    # This process's taxonomies: the words its own adapters met.
                    data_quality=DataQuality(store, lambda: metrics.taxonomy.taxonomies),
                ),
            }

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        store: Store = request.state.store
        ready, checks = await store_readiness(store)
        body = {
            "status": "ready" if ready else "unready",
            "store": checks,
            # A degraded source costs its panels only: shown here, never a reason to be unready.
            "sources": {
                source.value: {**window.snapshot(), **resilience.snapshot(source)}
                for source, window in health.items()
            },
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        store: Store = request.state.store
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                metrics.sync_run.latest = await store.latest_sync_run()
                metrics.sync_run.runs = await store.count_sync_runs()
        except Exception:
            # The rest of the metrics matter most when the store is down; keep the last run.
            logger.warning("could not read the latest sync run for /metrics", exc_info=True)
        try:
            async with asyncio.timeout(IDENTITY_COUNTS_SECONDS):
                await metrics.identity.refresh(IdentityViewStore(store))
        except Exception:
            logger.warning("could not read the identity counts for /metrics", exc_info=True)
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                downloads: ExportDownloads = request.state.export_downloads
                metrics.exports.jobs.by_state = await downloads.store.count_by_state()
        except Exception:
            logger.warning("could not read the export jobs for /metrics", exc_info=True)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route(
                "/graphql",
                AuthenticatedGraphQL(
                    graphql,
                    ide_enabled=protection.graphiql,
                    max_body_bytes=protection.max_body_bytes,
                    count_refusal=metrics.count_refusal,
                    audience=settings.audience,
                ),
                methods=["GET", "POST"],
            ),
            Route("/ivr/handoffs", post_handoff, methods=["POST"]),
            Route("/exports/{export_id}", get_export_file, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            # Not behind the bearer token: each vendor's signature authenticates its webhooks.
            *WebhookReceiver(
                settings.webhooks,
                default_region=settings.identity.default_region,
                metrics=metrics.webhooks,
                invalidator_for=webhook_invalidator(invalidator),
                sections={spec.source: settings.source(spec.source) for spec in SOURCES},
                demo=settings.demo,
            ).routes(),
        ],
        # The only middleware, so the outermost of ours: the id is on every response, a 401
        # or a 404 included (Starlette's own 500 page, outside it, goes without).
        middleware=[
            Middleware(
                ObservabilityMiddleware,
                metrics=metrics,
                health=health,
                deadline_seconds=settings.request_deadline_seconds,
                tracer=tracer,
            )
        ],
        lifespan=lifespan,
    )


def webhook_invalidator(
    override: RecordInvalidator | None,
) -> Callable[[Request], RecordInvalidator]:
    """What webhooks invalidate through: ``override``, or the lifespan's response cache."""

    def for_request(request: Request) -> RecordInvalidator:
        if override is not None:
            return override
        cache: RecordInvalidator = request.state.cache
        return cache

    return for_request


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


async def store_readiness(store: Store) -> tuple[bool, dict[str, object]]:
    """Whether the store answers within ``STORE_PROBE_SECONDS`` and is fully migrated."""
    reachable = await store.ping(within_seconds=STORE_PROBE_SECONDS)
    pending: list[str] | None = None
    if reachable:
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                pending = await store.pending_migrations()
        except Exception:
            logger.warning("could not read the applied migrations", exc_info=True)
    migrated = pending == []
    return reachable and migrated, {
        "reachable": reachable,
        "migrated": migrated,
        "pending_migrations": pending or [],
    }
