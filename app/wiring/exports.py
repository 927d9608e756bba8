"""Exports in the app's lifespan: the jobs service, this process's workers, the downloads."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack

from app.exports.downloads import ExportDownloads
from app.exports.jobs import Exports, ExportWorker, run_export_workers
from app.exports.metrics import ExportMetrics
from app.settings import Settings
from app.store.customers import Store
from app.store.exports import ExportStore
from kernel.access import AuditSink
from kernel.customer_facts import CustomerFactsStore
from kernel.tenancy import TenantId


async def start_exports(
    settings: Settings,
    stack: AsyncExitStack,
    store: Store,
    audit: AuditSink,
    metrics: ExportMetrics,
    facts: CustomerFactsStore,
    facts_of: Callable[[TenantId], CustomerFactsStore] | None = None,
) -> ExportDownloads:
    """Exports for this app; its workers run until ``stack`` closes (jobs handed back then).

    ``facts`` is the read model the jobs stream their rows from (``facts_of`` each
    tenant's, for a job of that tenant).

    With ``SCV_EXPORTS__ENABLED=false`` this process starts and serves exports but works
    none: another process (with workers) does.
    """
    export_store = ExportStore(store)
    exports = Exports(export_store, settings.exports, metrics)
    if settings.exports.enabled:
        workers = [
            ExportWorker(
                export_store,
                facts,
                settings.exports,
                metrics,
                default_region=settings.identity.default_region,
                wake=exports.wake,
                facts_of=facts_of,
            )
            for _ in range(settings.exports.workers)
        ]
        await stack.enter_async_context(run_export_workers(workers))
    return ExportDownloads(exports, export_store, audit, metrics)
