"""Writes in the app's lifespan: the service the mutations call, and this process's outbox
worker, each write delivered through its own tenant's sources (``SourcesOf``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack

from adapters.registry import record_nouns
from app.settings import Settings
from app.store.customers import Store
from app.store.writes import WriteStore
from app.writes.delivery import Delivery, SourcesOf
from app.writes.metrics import WriteMetrics
from app.writes.service import Writes
from app.writes.worker import OutboxWorker, running
from kernel.access import AuditSink
from kernel.models import Source
from kernel.tenancy import TenantId


def own_sources(
    default: TenantId,
    adapters: Mapping[Source, object],
    others: Mapping[TenantId, Mapping[Source, object]],
) -> SourcesOf:
    """Each served tenant's own sources, uncached: ``adapters`` the default tenant's,
    ``others`` every other's (``app.wiring.tenants.open_tenant_adapters``); none for a
    tenant not served, and a tenant's write never goes through another tenant's account."""
    none: Mapping[Source, object] = {}
    return lambda tenant: adapters if tenant == default else others.get(tenant, none)


async def start_writes(
    settings: Settings,
    stack: AsyncExitStack,
    store: Store,
    sources_of: SourcesOf,
    audit: AuditSink,
    metrics: WriteMetrics,
    invalidate: Callable[[TenantId, Source, str], Awaitable[None]],
) -> Writes:
    """The write service over each tenant's own (uncached) sources, ``sources_of(tenant)``;
    with ``SCV_WRITES__WORKER_ENABLED`` (the default) this process also delivers the outbox
    until ``stack`` closes. ``invalidate`` forgets a written record's cached reads, as its
    write's tenant's."""
    write_store = WriteStore(store)
    delivery = Delivery(write_store, sources_of, settings.writes, metrics, audit, invalidate)
    if settings.writes.worker_enabled:
        worker = OutboxWorker(write_store, delivery, settings.writes)
        await stack.enter_async_context(running(worker))
    return Writes(
        write_store,
        store,
        delivery,
        settings.writes,
        metrics,
        audit,
        default_region=settings.identity.default_region,
        record_nouns=record_nouns(),
    )
