"""Builds the integration KPIs for ``open_services``: each source's calls counted per day and
flushed to the store in the background, ``IntegrationKpiService`` over them, and the ticket
backlog's follower of webhooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from contextlib import AsyncExitStack

from app.kpis.backlog import TicketBacklogFollower
from app.kpis.call_days import SourceCallTally
from app.kpis.service import IntegrationKpiService
from app.kpis.settings import KpiSettings
from app.observability.middleware import current_request
from app.rollout.rollback import RollbackWatch
from app.rollout.service import SourceRollouts
from app.store.backlog import TicketBacklogStore
from app.store.customers import Store
from app.store.duplicate_days import DuplicateCandidateDays
from app.store.kpis import KpiStore
from app.store.source_calls import SourceCallDayStore
from app.wiring.metrics import GatewayMetrics
from kernel.models import Source
from kernel.tenancy import TenantId
from resolvers.context import Sources

logger = logging.getLogger(__name__)


def start_kpis(
    settings: KpiSettings,
    stack: AsyncExitStack,
    store: Store,
    metrics: GatewayMetrics,
    rollout: SourceRollouts,
    watch: RollbackWatch,
    served_tenants: Iterable[TenantId],
) -> IntegrationKpiService:
    """The KPIs (the platform's: every tenant's added up; ``for_tenant`` one tenant's),
    counting every upstream call and shadow comparison from now on, each for the tenant of
    the request that made it; on shutdown the flusher stops and what it had not added yet
    is added (the store still open)."""
    store_days = SourceCallDayStore(store.pool)
    served = frozenset(served_tenants)
    tally = SourceCallTally(store_days, tenant_now=lambda: calling_tenant(store.tenant, served))
    metrics.upstream_watchers.append(tally.observe_call)
    rollout.comparison_watchers.append(tally.observe_comparison)
    flusher = asyncio.create_task(tally.run(settings.flush_seconds))

    async def stop() -> None:
        flusher.cancel()
        metrics.upstream_watchers.remove(tally.observe_call)
        rollout.comparison_watchers.remove(tally.observe_comparison)
        try:
            await tally.flush()
        except Exception:
            logger.warning("could not add the last call counts on shutdown")

    stack.push_async_callback(stop)
    return IntegrationKpiService(
        KpiStore(store, None),
        rollout,
        watch.windows,
        TicketBacklogStore(store.pool, None),
        store_days,
        pending=tally,
        duplicate_days=DuplicateCandidateDays(store.pool, None),
    )


def calling_tenant(default: TenantId, served: frozenset[TenantId]) -> TenantId:
    """The served tenant the request under way acts for; ``default`` outside a request (the
    sync, background reads) or for the platform's own (an operator's, which calls no
    source)."""
    record = current_request.get()
    tenant = record.tenant if record is not None else None
    return TenantId(tenant) if tenant is not None and tenant in served else default


def backlog_follower(store: Store, sources: Sources) -> TicketBacklogFollower:
    """The ticket backlog following the ticket system's webhooks (the facts refresh's ticket
    pass, ``app.analytics.refresh``, reads the same source's tickets whole)."""
    return TicketBacklogFollower(
        sources.support, TicketBacklogStore(store.pool, store.tenant), Source.SUPPORT
    )
