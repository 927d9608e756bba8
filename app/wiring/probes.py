"""``/healthz``, ``/readyz`` and ``/metrics``: what probes and a scrape ask of one process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.exports.downloads import ExportDownloads
from app.identity.metrics import IDENTITY_COUNTS_SECONDS
from app.observability.health import SourceHealth
from app.resilience.policy import Resilience
from app.store.backlog import TicketBacklogStore
from app.store.customers import Store
from app.store.duplicate_days import DuplicateCandidateDays
from app.store.identity_view import IdentityViewStore
from app.store.writes import WriteStore
from app.wiring.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from kernel.models import Source

logger = logging.getLogger(__name__)

#: How long /readyz and /metrics wait for the store: a probe must answer quickly.
STORE_PROBE_SECONDS = 1.0


class Probes:
    """The probe endpoints of one app, over its metrics, source health and resilience."""

    def __init__(
        self,
        metrics: GatewayMetrics,
        health: Mapping[Source, SourceHealth],
        resilience: Resilience,
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._resilience = resilience

    async def healthz(self, request: Request) -> JSONResponse:
        """The process answers."""
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        """Ready when the store answers and is migrated; each source's state, for people."""
        store: Store = request.state.store
        ready, checks = await store_readiness(store)
        body = {
            "status": "ready" if ready else "unready",
            "store": checks,
            # A degraded source costs its panels only: shown here, never a reason to be unready.
            "sources": {
                source.value: {**window.snapshot(), **self._resilience.snapshot(source)}
                for source, window in self._health.items()
            },
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        """The registry, with the store's figures read just before (each within a bound)."""
        metrics = self._metrics
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
                before = metrics.identity.reading
                await metrics.identity.refresh(IdentityViewStore(store))
                reading = metrics.identity.reading
                if reading is not None and reading is not before:
                    # A fresh count: the day's in the integration KPIs' trend too.
                    await DuplicateCandidateDays(store.pool, store.tenant).record(
                        reading.duplicate_candidates, datetime.now(UTC)
                    )
        except Exception:
            logger.warning("could not read the identity counts for /metrics", exc_info=True)
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                downloads: ExportDownloads = request.state.export_downloads
                metrics.exports.jobs.by_state = await downloads.store.count_by_state()
        except Exception:
            logger.warning("could not read the export jobs for /metrics", exc_info=True)
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                writes = WriteStore(store)
                metrics.writes.outbox.by_status = await writes.count_by_status()
                metrics.writes.outbox.oldest_pending_seconds = await writes.oldest_pending_seconds()
        except Exception:
            logger.warning("could not read the writes' outbox for /metrics", exc_info=True)
        try:
            async with asyncio.timeout(STORE_PROBE_SECONDS):
                # The gauges are the platform's: every tenant's backlog added up.
                backlog = TicketBacklogStore(store.pool, None)
                metrics.backlog.reading = await backlog.backlog(datetime.now(UTC))
        except Exception:
            logger.warning("could not read the ticket backlog for /metrics", exc_info=True)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


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
