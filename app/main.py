"""The composition root: ``create_app(settings)`` wires store, sources, auth and GraphQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.extensions import ParserCache, ValidationCache

from adapters.models import Source
from app.auth import KeyRing, TokenVerifier
from app.demo_keys import ensure_demo_keys
from app.gateway import AuthenticatedGraphQL, GatewayGraphQL, GatewayState
from app.graphql_errors import PresentErrors
from app.metrics import CONTENT_TYPE_LATEST, GatewayMetrics, taxonomies_of
from app.observability import ObservabilityMiddleware, ObserveOperation, SourceHealth
from app.postgres import start_embedded_postgres
from app.settings import Settings
from app.sources import build_sources
from app.store import Store
from resolvers.schema import build_schema

logger = logging.getLogger(__name__)

#: How long /readyz and /metrics wait for the store: a probe must answer quickly.
STORE_PROBE_SECONDS = 1.0

#: Distinct documents kept parsed and validated: the desktop sends a handful, over and over.
DOCUMENT_CACHE_SIZE = 512


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
) -> Starlette:
    """The gateway as an ASGI app.

    ``transports`` lets tests replace a source's HTTP transport; ``registry`` is where the
    metrics go (a new one per app by default, so that apps never share counters).
    """
    metrics = GatewayMetrics.create(registry)
    health = {source: SourceHealth() for source in Source}
    schema = build_schema(
        extensions=[
            # First, so that it finishes last and sees the codes PresentErrors gives.
            ObserveOperation,
            # Factories, as strawberry asks; both keep their LRU at module level, so the
            # parsed and validated documents are shared across requests.
            lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
            lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
            PresentErrors,
        ]
    )
    graphql = GatewayGraphQL(
        schema, graphql_ide="graphiql" if settings.demo else None, allow_queries_via_get=False
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            store = await Store.connect(
                await database_url(settings), pool_size=settings.database_pool_size
            )
            stack.push_async_callback(store.close)
            await store.migrate()
            sources = await build_sources(settings, stack, transports=transports)
            verifier = TokenVerifier(settings.auth, await build_key_ring(settings, stack))
            metrics.watch_taxonomies(
                taxonomies_of([sources.billing, sources.crm, sources.support, sources.ivr])
            )
            yield {
                "store": store,
                "gateway": GatewayState(
                    store=store,
                    sources=sources,
                    verifier=verifier,
                    default_region=settings.identity.default_region,
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
            "sources": {source.value: window.snapshot() for source, window in health.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        store: Store = request.state.store
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                metrics.sync_run.latest = await store.latest_sync_run()
        except Exception:
            # The rest of the metrics matter most when the store is down; keep the last run.
            logger.warning("could not read the latest sync run for /metrics", exc_info=True)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route(
                "/graphql",
                AuthenticatedGraphQL(graphql, ide_enabled=settings.demo),
                methods=["GET", "POST"],
            ),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        # The only middleware, so the outermost of ours: the id is on every response, a 401
        # or a 404 included (Starlette's own 500 page, outside it, goes without).
        middleware=[Middleware(ObservabilityMiddleware, metrics=metrics, health=health)],
        lifespan=lifespan,
    )


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
