"""Each served tenant's own gateway state: what a request of that tenant reaches.

A request acts for one tenant (``app.tenancy``). Its store, and every service that reads or
writes the store for it (lookups, live linking, interactions, people's decisions, the audit
trail read back, the read model, identity evidence, data quality, writes' idempotency and
status), are that tenant's: made here from the default tenant's state with the tenant's
``Store`` (``Store.for_tenant``, the same pool). What holds no tenant's data (the token
verifier, the limits, the sources' rollout, the live feed, which subscriptions reach
through the tenant's store) is shared. The integration KPIs are each tenant's own in its
state, and every tenant's added up in the state served without a tenant (the platform's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from adapters.registry import fallback_order, record_nouns
from adapters.taxonomy import Taxonomy
from app.exports.jobs import Exports
from app.http.state import GatewayState
from app.identity.data_quality import DataQuality
from app.identity.decisions import IdentityDecisionService
from app.identity.live_linking import LiveLinking
from app.interactions.service import Interactions
from app.kpis.service import IntegrationKpiService
from app.settings import Settings
from app.store.audit import AuditTrailStore
from app.store.boundary import TenantBoundaryStore
from app.store.customers import Store
from app.store.exports import ExportStore
from app.store.facts import PostgresFactsStore
from app.store.identity import LinksChanged
from app.store.identity_view import IdentityViewStore
from app.store.writes import WriteStore
from app.tenancy.rollout import PlatformRolloutGate
from app.wiring.metrics import GatewayMetrics
from app.writes.service import Writes
from kernel.identity_evidence import IdentityEvidence
from kernel.tenancy import TenantId


def with_tenants(
    default: GatewayState,
    store: Store,
    settings: Settings,
    metrics: GatewayMetrics,
    links_changed: LinksChanged,
    taxonomies: Callable[[], Iterable[Taxonomy[Any]]],
) -> GatewayState:
    """``default`` (the default tenant's state, over ``store``) knowing every served
    tenant's own state (``GatewayState.for_tenant``)."""
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
            boundary=TenantBoundaryStore(scoped, settings.tenancy.tenants),
            live_linker=live_linker,
            interactions=(
                interactions.for_store(scoped, live_linker)
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
