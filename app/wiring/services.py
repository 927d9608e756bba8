"""What one app holds while it runs: opened in its lifespan, closed in reverse on shutdown.

``open_services`` connects the store (and migrates it), builds the sources through the
registry, the token verifier, live linking, the interaction service, the response cache, the
read model, the writes (and their outbox worker) and the export workers, and returns the
lifespan's state: what the endpoints find in ``request.state``. Everything it opens is
pushed onto the caller's ``AsyncExitStack``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import multiprocess

from adapters.billing.port import PORT as BILLING
from adapters.crm.port import PORT as CRM
from adapters.registry import SOURCES, fallback_order, record_nouns
from adapters.support.port import PORT as SUPPORT
from adapters.taxonomy import taxonomies_of
from adapters.unreadable import unreadable_of
from app.analytics.refresh import FactsUpdater
from app.cache.response_cache import ResponseCache
from app.cache.sources import cached_adapters
from app.http.state import GatewayState
from app.identity.data_quality import DataQuality
from app.identity.decisions import IdentityDecisionService
from app.identity.live_linking import LiveLinking
from app.live.service import LiveChanges
from app.resilience.policy import Resilience
from app.rollout.rollback import RollbackWatch
from app.rollout.service import SourceRollouts, configured_rollouts
from app.rollout.window import SourceWindows
from app.secrets.files import SecretFiles
from app.security.audit import PostgresAuditSink
from app.security.auth import KeyRing, TokenVerifier, published_jwks
from app.security.demo_keys import ALGORITHM as DEMO_ALGORITHM
from app.security.demo_keys import demo_key_set, ensure_demo_keys
from app.security.key_files import RECHECK_SECONDS, JwksFile
from app.settings import Settings
from app.store.audit import AuditTrailStore
from app.store.boundary import TenantBoundaryStore
from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.store.identity_view import IdentityViewStore
from app.store.roles import embedded_store
from app.store.rollout import PostgresRolloutStore
from app.whole_response.cache import WholeResponseCache
from app.wiring.exports import start_exports
from app.wiring.interactions import build_interactions, tenant_handoffs
from app.wiring.kpis import backlog_follower, start_kpis
from app.wiring.live import start_live
from app.wiring.metrics import GatewayMetrics
from app.wiring.protection import QueryProtection
from app.wiring.sources import build_adapters
from app.wiring.tenants import open_tenant_adapters, tenant_webhooks, tenants_sources, with_tenants
from app.wiring.writes import own_sources, start_writes
from kernel.identity import CustomerId
from kernel.identity_evidence import IdentityEvidence
from kernel.models import Source
from kernel.tenancy import TenantId
from resolvers.context import Sources

if TYPE_CHECKING:
    from app.observability.tracing import RequestTracer

logger = logging.getLogger(__name__)


async def open_services(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    metrics: GatewayMetrics,
    resilience: Resilience,
    protection: QueryProtection,
    tracer: RequestTracer | None = None,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None = None,
    secret_files: SecretFiles | None = None,
) -> dict[str, Any]:
    """Open what the app serves with; the lifespan state (``request.state``) it returns.

    ``secret_files`` (the app's) are checked every ``secrets.reload_seconds`` while it
    runs; the sources' clients follow their credentials' files."""
    if tracer is not None:
        stack.callback(tracer.shutdown)
    if metrics.resilience.published:
        publisher = asyncio.create_task(publish_every_second(metrics.resilience.publish))
        stack.callback(publisher.cancel)
        # A worker that stops cleanly takes its live gauges with it; one that dies
        # leaves its last published state until the directory is cleared.
        stack.callback(multiprocess.mark_process_dead, os.getpid())
    url = await database_url(settings)
    store = await Store.connect(
        url, pool_size=settings.database_pool_size, tenant=settings.tenancy.default_tenant
    )
    stack.push_async_callback(store.close)
    if protection.redis is not None:
        stack.push_async_callback(protection.redis.aclose)
    await store.migrate()
    live = await start_live(settings.live, stack, store, url, metrics.live)
    audit_trail = AuditTrailStore(store)
    adapters = await build_adapters(
        settings, stack, transports=transports, resilience=resilience, secret_files=secret_files
    )
    if secret_files is not None and settings.secrets.reload_seconds > 0:
        reloads = asyncio.create_task(secret_files.run(settings.secrets.reload_seconds))
        stack.callback(reloads.cancel)
    sources = Sources.from_adapters(adapters)
    # Every other served tenant's own accounts: its sections, its clients, its policies.
    tenant_adapters = await open_tenant_adapters(
        settings, stack, store.tenant, transports, resilience, secret_files
    )
    verifier = TokenVerifier(settings.auth, await build_key_ring(settings, stack))
    # Customers whose links change between syncs are listed by ``customers`` at once.
    facts_writer = FactsWriter(store.pool, store.tenant)
    # Made once the response cache is (its tier holds the generations it checks).
    whole_response: WholeResponseCache | None = None

    async def links_changed(customers: Sequence[CustomerId]) -> None:
        """What a link decision (a person's, or live linking's) tells: kept answers retire,
        the read model lists the customers, and their live subscribers re-query."""
        # First: the read model's update may fail (the next sync repairs it), this must not.
        if whole_response is not None:
            await whole_response.links_changed(customers)
        await facts_writer.ensure_customers(customers)
        if live is not None:
            await live.links_changed(customers)

    live_linker = (
        LiveLinking(
            store,
            settings.identity,
            metrics=metrics.linking,
            links_changed=links_changed,
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
        on_step=live.interaction_changed if live is not None else None,
    )
    metrics.watch_taxonomies(taxonomies_of(list(adapters.values())))
    metrics.watch_unreadable(unreadable_of(list(adapters.values())))
    # After the taxonomies are found: the cached adapters wrap the ones that hold them.
    # The default tenant's view; each other tenant reads and invalidates its own keys.
    cache = (await ResponseCache.open(settings.cache, metrics.cache)).for_tenant(store.tenant)
    if settings.cache.enabled and settings.cache.url is None and settings.workers > 1:
        logger.warning(
            "each of the %d workers caches on its own: a webhook invalidates only the "
            "worker that receives it; set SCV_CACHE__URL to share a Redis",
            settings.workers,
        )
    stack.push_async_callback(cache.close)
    whole_response = WholeResponseCache(settings.whole_response, cache.tier, metrics.whole_response)
    cache.when_cleared(whole_response.clear)
    if settings.cache.enabled:
        sources = Sources.from_adapters(cached_adapters(adapters, cache))
    tenant_sources = tenants_sources(tenant_adapters, cache if settings.cache.enabled else None)
    facts = PostgresFactsStore(store.pool, store.tenant)
    # Webhooks re-read a changed record's facts through the (just invalidated) cache.
    facts_updater = FactsUpdater(
        store,
        facts_writer,
        sources.port(BILLING),
        sources.port(CRM),
        sources.port(SUPPORT),
        adapters=sources.by_source,
        updates=metrics.facts.updates,
    )
    writes = await start_writes(
        settings,
        stack,
        store,
        own_sources(store.tenant, adapters, tenant_adapters),
        PostgresAuditSink(audit_trail, settings.audit, metrics.audit),
        metrics.writes,
        tenants_written(store, cache, live),
    )
    rollout = build_rollout(
        settings, store, PostgresAuditSink(audit_trail, settings.audit, metrics.audit), metrics
    )
    # Shadow reads under way finish (or are cancelled) before the sources close.
    stack.push_async_callback(rollout.drain)
    watch = build_rollback_watch(settings, rollout, metrics)
    stack.callback(metrics.upstream_watchers.remove, watch.windows.observe_call)
    checks = asyncio.create_task(watch.run(settings.rollout.check_seconds))
    stack.callback(checks.cancel)
    kpis = start_kpis(
        settings.kpis, stack, store, metrics, rollout, watch, settings.tenancy.tenants
    )
    # Last, so that its workers stop (handing their jobs back) before anything closes.
    export_downloads = await start_exports(
        settings,
        stack,
        store,
        PostgresAuditSink(audit_trail, settings.audit, metrics.audit),
        metrics.exports,
        facts,
        facts_of=lambda tenant: PostgresFactsStore(store.pool, tenant),
    )
    return {
        "export_downloads": export_downloads,
        "store": store,
        # For webhooks (``await cache.invalidate_record(source, id)``).
        "cache": cache,
        "facts_updater": facts_updater,
        # For webhooks: what else follows the events applied.
        "event_followers": [backlog_follower(store, sources)],
        # For webhooks: the changes they carry, published to subscribers.
        "live": live,
        # For each other tenant's webhooks (/webhooks/<tenant>/<source>): what they apply to.
        "tenant_webhooks": {
            tenant: tenant_webhooks(
                store.for_tenant(tenant), cache.for_tenant(tenant), own, live, metrics
            )
            for tenant, own in tenant_sources.items()
        },
        "gateway": with_tenants(
            GatewayState(
                store=store,
                sources=sources,
                verifier=verifier,
                default_region=settings.identity.default_region,
                interactions=interactions,
                live_linker=live_linker,
                identity_decisions=IdentityDecisionService(
                    store,
                    metrics=metrics.linking,
                    links_changed=links_changed,
                ),
                audit=PostgresAuditSink(audit_trail, settings.audit, metrics.audit),
                audit_trail=audit_trail,
                exports=export_downloads.exports,
                writes=writes,
                facts=facts,
                panel_concurrency=settings.customers.panel_concurrency,
                evidence=IdentityEvidence(
                    IdentityViewStore(store),
                    settings.identity.system_of_record.as_mapping(),
                    fallback_order=fallback_order(),
                    record_nouns=record_nouns(),
                ),
                # This process's taxonomies: the words its own adapters met.
                data_quality=DataQuality(store, lambda: metrics.taxonomy.taxonomies),
                live=live,
                rollout=rollout,
                kpis=kpis,
                whole_response=whole_response if settings.cache.enabled else None,
                tenancy=settings.tenancy,
                boundary=TenantBoundaryStore(store, settings.tenancy.tenants),
            ),
            store,
            settings,
            metrics,
            links_changed,
            lambda: metrics.taxonomy.taxonomies,
            tenant_sources,
            await tenant_handoffs(settings, stack),
        ),
        "rollout": rollout,
        "rollback_watch": watch,
    }


def written(
    invalidate: Callable[[TenantId, Source, str], Awaitable[None]],
    live_of: Callable[[TenantId], LiveChanges | None],
) -> Callable[[TenantId, Source, str], Awaitable[None]]:
    """What a write applied to a system of record tells, as its tenant's: the cache forgets
    the record, and the customer's live subscribers hear of it at once (the vendor's webhook
    follows, and tells them again: a second re-query, never a missed one)."""

    async def changed(tenant: TenantId, source: Source, record_id: str) -> None:
        await invalidate(tenant, source, record_id)
        live = live_of(tenant)
        if live is not None:
            await live.record_changed(source, record_id, datetime.now(UTC), time.time())

    return changed


def tenants_written(
    store: Store, cache: ResponseCache, live: LiveChanges | None
) -> Callable[[TenantId, Source, str], Awaitable[None]]:
    """``written`` over each tenant's own cache namespace and store (``for_tenant``, the
    default tenant's included: its view of either is the one it already is)."""

    async def invalidate(tenant: TenantId, source: Source, record_id: str) -> None:
        await cache.for_tenant(tenant).invalidate_record(source, record_id)

    def live_of(tenant: TenantId) -> LiveChanges | None:
        return live.for_store(store.for_tenant(tenant)) if live is not None else None

    return written(invalidate, live_of)


def build_rollout(
    settings: Settings, store: Store, audit: PostgresAuditSink, metrics: GatewayMetrics
) -> SourceRollouts:
    """Every registered source's rollout: its settings, supervisors' changes on top."""
    sections = {spec.source: settings.source(spec.source).rollout for spec in SOURCES}
    return SourceRollouts(
        configured_rollouts(
            {
                source: (section.mode, section.pilot_subjects, section.pilot_queues)
                for source, section in sections.items()
            }
        ),
        PostgresRolloutStore(store),
        refresh_seconds=settings.rollout.refresh_seconds,
        max_shadow_reads=settings.rollout.max_shadow_reads,
        audit=audit,
        metrics=metrics.rollout,
        windows=SourceWindows(),
    )


def build_rollback_watch(
    settings: Settings, rollout: SourceRollouts, metrics: GatewayMetrics
) -> RollbackWatch:
    """Every source's rollback criteria over its KPI windows (told of every upstream call)."""
    windows = rollout.windows
    assert windows is not None  # build_rollout gives it one
    metrics.upstream_watchers.append(windows.observe_call)
    watch = RollbackWatch(
        rollout,
        windows,
        {spec.source: settings.source(spec.source).rollout.rollback for spec in SOURCES},
        metrics.rollout,
    )
    return watch


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
    """The configured PostgreSQL, or the embedded one under ``data_dir`` when none is (as
    its run-time role, without DDL rights: migrated by its owner first)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return (
        await embedded_store(settings.data_dir, default_tenant=settings.tenancy.default_tenant)
    ).runtime_url


async def migration_database_url(settings: Settings) -> str:
    """The schema owner's PostgreSQL URL (``scv migrate``): ``database_migration_url``, else
    ``database_url``, else the embedded server's owner."""
    for url in (settings.database_migration_url, settings.database_url):
        if url is not None:
            return url.get_secret_value()
    return (
        await embedded_store(settings.data_dir, default_tenant=settings.tenancy.default_tenant)
    ).owner_url


async def build_key_ring(settings: Settings, stack: AsyncExitStack) -> KeyRing:
    """Verification keys from settings; in demo mode with none set, the demo's own keys
    (every key of its directory, read again when ``scv keys rotate`` adds one)."""
    auth = settings.auth
    if auth.jwks_url is not None:
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=5.0))
        return KeyRing(
            fetch_jwks=published_jwks(client, auth.jwks_url),
            refetch_interval=auth.jwks_refetch_seconds,
            max_age=auth.jwks_max_age_seconds,
        )
    if auth.jwks_file is not None:
        return KeyRing(
            fetch_jwks=local_jwks(JwksFile(auth.jwks_file).document),
            refetch_interval=0,
            max_age=RECHECK_SECONDS,
        )
    if auth.public_key_pem is not None:
        return KeyRing(static_key=auth.public_key_pem.get_secret_value())
    if auth.public_key_file is not None:
        return KeyRing(static_key=auth.public_key_file.read_text())
    if settings.demo:
        await asyncio.to_thread(ensure_demo_keys, settings.data_dir)
        demo_keys = demo_key_set(settings.data_dir)
        return KeyRing(
            fetch_jwks=local_jwks(lambda: demo_keys.jwks(DEMO_ALGORITHM)),
            refetch_interval=0,
            # A key removed (scv keys rotate, rollback) stops verifying within this.
            max_age=RECHECK_SECONDS,
        )
    raise ValueError(
        "no token verification key: set SCV_AUTH__JWKS_URL, SCV_AUTH__JWKS_FILE, "
        "SCV_AUTH__PUBLIC_KEY_PEM or SCV_AUTH__PUBLIC_KEY_FILE (or run in demo mode)"
    )


def local_jwks(read: Callable[[], dict[str, Any]]) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A ``KeyRing``'s fetch of a JWKS read from local files (off the event loop: a few
    ``stat`` calls, and a read when they changed)."""

    async def fetch() -> dict[str, Any]:
        return await asyncio.to_thread(read)

    return fetch
