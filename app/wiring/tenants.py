"""Each served tenant's own gateway state: what a request of that tenant reaches.

A request acts for one tenant (``app.tenancy``). Its store, and every service that reads or
writes the store for it (lookups, live linking, interactions, people's decisions, the audit
trail read back, the read model, identity evidence, data quality, writes' idempotency and
status), are that tenant's: made here from the default tenant's state with the tenant's
``Store`` (``Store.for_tenant``, the same pool), and its sources are its own accounts
(``app.wiring.sources.build_adapters(..., tenant=...)``, read through its own namespace of
the response cache). What holds no tenant's data (the token verifier, the limits, the
sources' rollout, the live feed, which subscriptions reach through the tenant's store) is
shared. The integration KPIs are each tenant's own in its state, and every tenant's added
up in the state served without a tenant (the platform's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from typing import Any, cast

import httpx

from adapters.billing.port import PORT as BILLING
from adapters.crm.port import PORT as CRM
from adapters.crm.port import CrmAdapter
from adapters.ivr.port import PORT as IVR
from adapters.ivr.port import IvrAdapter
from adapters.registry import fallback_order, record_nouns
from adapters.support.port import PORT as SUPPORT
from adapters.taxonomy import Taxonomy
from app.analytics.refresh import FactsUpdater
from app.cache.response_cache import ResponseCache
from app.cache.sources import cached_adapters
from app.exports.jobs import Exports
from app.http.state import GatewayState
from app.identity.data_quality import DataQuality
from app.identity.decisions import IdentityDecisionService
from app.identity.live_linking import LiveLinking
from app.interactions.handoff import HandoffVerifier
from app.interactions.service import Interactions
from app.kpis.service import IntegrationKpiService
from app.live.service import LiveChanges
from app.resilience.policy import Resilience
from app.secrets.files import SecretFiles
from app.settings import Settings
from app.store.audit import AuditTrailStore
from app.store.boundary import TenantBoundaryStore
from app.store.customers import Store
from app.store.exports import ExportStore
from app.store.facts import PostgresFactsStore
from app.store.facts_writer import FactsWriter
from app.store.identity import LinksChanged
from app.store.identity_view import IdentityViewStore
from app.store.writes import WriteStore
from app.tenancy.absent import AbsentSource
from app.tenancy.rollout import PlatformRolloutGate
from app.webhooks.tenants import TenantWebhooks
from app.wiring.metrics import GatewayMetrics
from app.wiring.sources import build_adapters
from app.writes.service import Writes
from kernel.identity_evidence import IdentityEvidence
from kernel.models import Source
from kernel.tenancy import TenantId
from resolvers.context import Sources


def with_tenants(
    default: GatewayState,
    store: Store,
    settings: Settings,
    metrics: GatewayMetrics,
    links_changed: LinksChanged,
    taxonomies: Callable[[], Iterable[Taxonomy[Any]]],
    sources: Mapping[TenantId, Sources],
    handoffs: Mapping[TenantId, HandoffVerifier],
) -> GatewayState:
    """``default`` (the default tenant's state, over ``store``) knowing every served
    tenant's own state (``GatewayState.for_tenant``), each with its own ``sources`` (a
    tenant missing from them has none) and its IVR's handoff verifier (``handoffs``)."""
    served = frozenset(settings.tenancy.tenants)
    if len(served) > 1 and default.rollout is not None:
        default = replace(default, rollout=PlatformRolloutGate(default.rollout, served))
    states: dict[TenantId, GatewayState] = {}
    kpis = default.kpis
    for tenant in settings.tenancy.tenants:
        # The KPIs as built are the platform's (every tenant's added up): the state served
        # without a tenant (an operator's). Each tenant's state reads its own.
        own_kpis = kpis.for_tenant(tenant) if isinstance(kpis, IntegrationKpiService) else kpis
        if tenant == store.tenant:
            states[tenant] = replace(default, kpis=own_kpis)
            continue
        scoped = store.for_tenant(tenant)
        own = sources.get(tenant, Sources.from_adapters({}))
        live_linker = (
            LiveLinking(
                scoped, settings.identity, metrics=metrics.linking, links_changed=links_changed
            )
            if default.live_linker is not None
            else None
        )
        interactions = default.interactions
        writes = default.writes
        exports = default.exports
        states[tenant] = replace(
            default,
            store=scoped,
            sources=own,
            boundary=TenantBoundaryStore(scoped, settings.tenancy.tenants),
            live_linker=live_linker,
            interactions=(
                interactions.for_store(
                    scoped,
                    live_linker,
                    sources=own,
                    ivr=cast(
                        IvrAdapter, own.by_source.get(IVR.source, AbsentSource(IVR.source, tenant))
                    ),
                    crm=cast(
                        CrmAdapter, own.by_source.get(CRM.source, AbsentSource(CRM.source, tenant))
                    ),
                    handoffs=handoffs.get(tenant),
                )
                if isinstance(interactions, Interactions)
                else None
            ),
            identity_decisions=IdentityDecisionService(
                scoped, metrics=metrics.linking, links_changed=links_changed
            ),
            audit_trail=AuditTrailStore(scoped),
            facts=PostgresFactsStore(scoped.pool, tenant),
            evidence=IdentityEvidence(
                IdentityViewStore(scoped),
                settings.identity.system_of_record.as_mapping(),
                fallback_order=fallback_order(),
                record_nouns=record_nouns(),
            ),
            data_quality=DataQuality(scoped, taxonomies),
            exports=(
                Exports(ExportStore(scoped), settings.exports, metrics.exports, wake=exports.wake)
                if isinstance(exports, Exports)
                else None
            ),
            writes=(
                writes.for_tenant(WriteStore(scoped), scoped, tenant)
                if isinstance(writes, Writes)
                else None
            ),
            kpis=own_kpis,
        )
    return replace(default, by_tenant=states)


async def open_tenant_adapters(
    settings: Settings,
    stack: AsyncExitStack,
    default: TenantId,
    transports: Mapping[Source, httpx.AsyncBaseTransport] | None,
    resilience: Resilience,
    secret_files: SecretFiles | None = None,
) -> dict[TenantId, dict[Source, object]]:
    """Every served tenant but ``default``'s own adapters: its sections, its clients, its
    policies (``build_adapters(..., tenant=...)``), its secrets followed from their files;
    closed with ``stack``."""
    return {
        tenant: await build_adapters(
            settings,
            stack,
            transports=transports,
            resilience=resilience,
            tenant=tenant,
            secret_files=secret_files,
        )
        for tenant in settings.tenancy.tenants
        if tenant != default
    }


def tenants_sources(
    adapters: Mapping[TenantId, Mapping[Source, object]], cache: ResponseCache | None
) -> dict[TenantId, Sources]:
    """Each tenant's adapters as its ``Sources``, read through its own namespace of
    ``cache`` (None: the cache is off)."""
    return {
        tenant: Sources.from_adapters(
            cached_adapters(own, cache.for_tenant(tenant)) if cache is not None else own
        )
        for tenant, own in adapters.items()
    }


def tenant_webhooks(
    store: Store,
    cache: ResponseCache,
    sources: Sources,
    live: LiveChanges | None,
    metrics: GatewayMetrics,
) -> TenantWebhooks:
    """What one other tenant's webhooks apply to: its store, its cache namespace, its facts
    re-read from its own sources (when it has the three the read model reads), its
    customers' subscribers."""
    has_facts = all(port.source in sources for port in (BILLING, CRM, SUPPORT))
    return TenantWebhooks(
        store=store,
        cache=cache,
        facts_updater=(
            FactsUpdater(
                store,
                FactsWriter(store.pool, store.tenant),
                sources.port(BILLING),
                sources.port(CRM),
                sources.port(SUPPORT),
                adapters=sources.by_source,
                updates=metrics.facts.updates,
            )
            if has_facts
            else None
        ),
        live=live.for_store(store) if live is not None else None,
    )
