"""``IntegrationKpiService``: the integration's KPIs since a time, from the store's sync runs
and webhook events and this process's KPI windows (``app.rollout.window``) and rollout
modes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from app.rollout.service import SourceRollouts
from app.rollout.window import SourceWindows
from app.store.backlog import TicketBacklogStore
from kernel.integration_kpis import (
    BacklogCount,
    EventLatency,
    IntegrationKpis,
    RecordVolume,
    SourceKpis,
)
from kernel.models import Source


class KpiFigures(Protocol):
    """What the store counts since a time (``app.store.kpis.KpiStore``)."""

    async def sync_runs_since(self, since: datetime) -> Mapping[str, int]: ...

    async def record_volume_since(self, since: datetime) -> tuple[RecordVolume, ...]: ...

    async def event_latency_since(self, since: datetime) -> tuple[EventLatency, ...]: ...


class IntegrationKpiService:
    """An ``IntegrationKpiReader`` over the store and the rollout's windows."""

    def __init__(
        self,
        store: KpiFigures,
        rollouts: SourceRollouts,
        windows: SourceWindows,
        backlog: TicketBacklogStore,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._rollouts = rollouts
        self._windows = windows
        self._backlog = backlog
        self._now = now

    async def integration_kpis(self, since: datetime) -> IntegrationKpis:
        now = self._now()
        seconds = max(0.0, (now - since).total_seconds())
        current = await self._rollouts.current()
        sources = []
        for source in Source:
            rollout = current.get(source)
            if rollout is None:
                continue
            figures = self._windows.figures(source, seconds)
            sources.append(
                SourceKpis(
                    source=source,
                    mode=rollout.mode,
                    calls=figures.calls,
                    availability=figures.availability,
                    error_rate=figures.error_rate,
                    latency_p99_seconds=figures.latency_p99_seconds,
                    shadow_agreed=figures.comparisons - figures.disagreements,
                    shadow_disagreed=figures.disagreements,
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
            backlog=tuple(BacklogCount(status, bucket, n) for status, bucket, n in backlog),
            backlog_trend=tuple(
                BacklogCount(status, bucket, n, day=day) for day, status, bucket, n in trend
            ),
            record_volume=_window_volume(volume),
            record_volume_trend=volume,
            event_latency=tuple(figure for figure in latency if figure.day is None),
            event_latency_trend=tuple(figure for figure in latency if figure.day is not None),
        )


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
