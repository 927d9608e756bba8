"""``IntegrationKpiService``: the integration's KPIs since a time, from the store's sync runs,
webhook events and each source's calls per day (every instance's), this process's KPI
windows (``app.rollout.window``: latency p99) and the rollout modes."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Protocol

from app.rollout.service import SourceRollouts
from app.rollout.window import SourceWindows
from app.store.backlog import TicketBacklogStore
from kernel.integration_kpis import (
    BacklogCount,
    DuplicateCandidates,
    EventLatency,
    IntegrationKpis,
    RecordVolume,
    SourceCallDay,
    SourceKpis,
)
from kernel.models import Source
from kernel.tenancy import TenantId

logger = logging.getLogger(__name__)


class KpiFigures(Protocol):
    """What the store counts since a time (``app.store.kpis.KpiStore``), of one tenant or
    every tenant's (``scoped``)."""

    def scoped(self, tenant: TenantId | None) -> KpiFigures: ...

    async def sync_runs_since(self, since: datetime) -> Mapping[str, int]: ...

    async def record_volume_since(self, since: datetime) -> tuple[RecordVolume, ...]: ...

    async def event_latency_since(self, since: datetime) -> tuple[EventLatency, ...]: ...


class CallDays(Protocol):
    """Each source's calls per day (``app.store.source_calls.SourceCallDayStore``)."""

    def scoped(self, tenant: TenantId | None) -> CallDays: ...

    async def days_since(self, since: date) -> tuple[SourceCallDay, ...]: ...


class DuplicateDays(Protocol):
    """The duplicate candidates per day (``app.store.duplicate_days.DuplicateCandidateDays``)."""

    def scoped(self, tenant: TenantId | None) -> DuplicateDays: ...

    async def days_since(self, since: date) -> tuple[DuplicateCandidates, ...]: ...


class Flushable(Protocol):
    """This process's counts not yet in the store (``app.kpis.call_days.SourceCallTally``)."""

    async def flush(self) -> None: ...


class IntegrationKpiService:
    """An ``IntegrationKpiReader`` over the store and the rollout's windows: one tenant's
    figures (``for_tenant``), or every tenant's added up (the platform's, as built).

    What the tenants share is the platform's in either: the sources' rollout modes and
    this process's latency p99 (the tenants share their sources)."""

    def __init__(
        self,
        store: KpiFigures,
        rollouts: SourceRollouts,
        windows: SourceWindows,
        backlog: TicketBacklogStore,
        call_days: CallDays,
        *,
        pending: Flushable | None = None,
        duplicate_days: DuplicateDays | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._rollouts = rollouts
        self._windows = windows
        self._backlog = backlog
        self._call_days = call_days
        self._pending = pending
        self._duplicate_days = duplicate_days
        self._now = now

    def for_tenant(self, tenant: TenantId | None) -> IntegrationKpiService:
        """The same KPIs, of ``tenant``'s sync runs, records, events, calls, duplicate
        candidates and backlog (None: every tenant's, the platform total)."""
        return IntegrationKpiService(
            self._store.scoped(tenant),
            self._rollouts,
            self._windows,
            self._backlog.scoped(tenant),
            self._call_days.scoped(tenant),
            pending=self._pending,
            duplicate_days=(
                self._duplicate_days.scoped(tenant) if self._duplicate_days is not None else None
            ),
            now=self._now,
        )

    async def integration_kpis(self, since: datetime) -> IntegrationKpis:
        now = self._now()
        seconds = max(0.0, (now - since).total_seconds())
        current = await self._rollouts.current()
        days = await self._days_since(since.astimezone(UTC).date())
        sources = []
        for source in Source:
            rollout = current.get(source)
            if rollout is None:
                continue
            window = SourceCallDay(source)
            for day in days:
                if day.source is source:
                    window = window + day
            sources.append(
                SourceKpis(
                    source=source,
                    mode=rollout.mode,
                    calls=window.calls,
                    availability=window.availability,
                    error_rate=window.error_rate,
                    # A percentile does not add up across processes: this one's own calls.
                    latency_p99_seconds=self._windows.figures(source, seconds).latency_p99_seconds,
                    shadow_agreed=window.shadow_agreed,
                    shadow_disagreed=window.shadow_disagreed,
                )
            )
        backlog = await self._backlog.backlog(now)
        trend = await self._backlog.daily(since.astimezone(UTC).date())
        volume = await self._store.record_volume_since(since)
        latency = await self._store.event_latency_since(since)
        return IntegrationKpis(
            since=since,
            sync_runs=await self._store.sync_runs_since(since),
            sources=tuple(sources),
            sources_trend=days,
            backlog=tuple(BacklogCount(status, bucket, n) for status, bucket, n in backlog),
            backlog_trend=tuple(
                BacklogCount(status, bucket, n, day=day) for day, status, bucket, n in trend
            ),
            record_volume=_window_volume(volume),
            record_volume_trend=volume,
            duplicate_candidates_trend=(
                await self._duplicate_days.days_since(since.astimezone(UTC).date())
                if self._duplicate_days is not None
                else ()
            ),
            event_latency=tuple(figure for figure in latency if figure.day is None),
            event_latency_trend=tuple(figure for figure in latency if figure.day is not None),
        )

    async def _days_since(self, since: date) -> tuple[SourceCallDay, ...]:
        """Every source's calls per day from ``since`` on, this process's latest included."""
        if self._pending is not None:
            try:
                await self._pending.flush()
            except Exception:
                # Its counts stay for the next flush; the store's days are still worth reading.
                logger.warning("could not add this process's call counts before reading them")
        return await self._call_days.days_since(since)


def _window_volume(daily: Iterable[RecordVolume]) -> tuple[RecordVolume, ...]:
    """The daily volumes summed per source (the window's)."""
    totals: dict[Source, list[int]] = defaultdict(lambda: [0, 0])
    for figure in daily:
        totals[figure.source][0] += figure.failed
        totals[figure.source][1] += figure.duplicates
    return tuple(
        RecordVolume(source, failed, duplicates)
        for source, (failed, duplicates) in sorted(totals.items(), key=lambda i: i[0].value)
    )
