"""Builds the integration KPIs for ``open_services``: each source's calls counted per day and
flushed to the store in the background, ``IntegrationKpiService`` over them, and the ticket
backlog's follower of webhooks."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack

from app.kpis.backlog import TicketBacklogFollower
from app.kpis.call_days import SourceCallTally
from app.kpis.service import IntegrationKpiService
from app.kpis.settings import KpiSettings
from app.rollout.rollback import RollbackWatch
from app.rollout.service import SourceRollouts
from app.store.backlog import TicketBacklogStore
from app.store.customers import Store
from app.store.duplicate_days import DuplicateCandidateDays
from app.store.kpis import KpiStore
from app.store.source_calls import SourceCallDayStore
from app.wiring.metrics import GatewayMetrics
from kernel.models import Source
from resolvers.context import Sources

logger = logging.getLogger(__name__)


def start_kpis(
    settings: KpiSettings,
    stack: AsyncExitStack,
    store: Store,
    metrics: GatewayMetrics,
    rollout: SourceRollouts,
    watch: RollbackWatch,
) -> IntegrationKpiService:
    """The KPIs, counting every upstream call and shadow comparison from now on; on
    shutdown the flusher stops and what it had not added yet is added (the store still open)."""
    store_days = SourceCallDayStore(store.pool)
    tally = SourceCallTally(store_days)
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
        KpiStore(store),
        rollout,
        watch.windows,
        TicketBacklogStore(store.pool),
        store_days,
        pending=tally,
        duplicate_days=DuplicateCandidateDays(store.pool),
    )


def backlog_follower(store: Store, sources: Sources) -> TicketBacklogFollower:
    """The ticket backlog following the ticket system's webhooks (the facts refresh's ticket
    pass, ``app.analytics.refresh``, reads the same source's tickets whole)."""
    return TicketBacklogFollower(sources.support, TicketBacklogStore(store.pool), Source.SUPPORT)
