"""Integration KPIs as data (``Query.integrationKpis``): what operations leaders read of the
integration's health, beside the engineers' metrics. The app computes them
(``app/kpis/``); resolvers see this port only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from kernel.models import Source
from kernel.rollout import RolloutMode


@dataclass(frozen=True, slots=True)
class SourceKpis:
    """One source over the window: its mode, calls, availability, errors, latency, shadow."""

    source: Source
    mode: RolloutMode
    calls: int
    #: Share of calls the source answered (None: no calls).
    availability: float | None
    error_rate: float
    latency_p99_seconds: float | None
    shadow_agreed: int
    shadow_disagreed: int


@dataclass(frozen=True, slots=True)
class SourceCallDay:
    """One source's calls on one UTC day (``day`` None: a sum over several), as every
    gateway process counted them: the per-source KPIs' daily series."""

    source: Source
    day: date | None = None
    calls: int = 0
    #: Calls that failed, whatever the cause (cancelled ones are not counted at all).
    errors: int = 0
    #: Failures of a source that could not be reached or did not answer in time.
    unavailable: int = 0
    #: Answers not of the vendor's contract.
    contract_errors: int = 0
    shadow_agreed: int = 0
    shadow_disagreed: int = 0

    def __add__(self, other: SourceCallDay) -> SourceCallDay:
        return SourceCallDay(
            source=self.source,
            day=self.day if self.day == other.day else None,
            calls=self.calls + other.calls,
            errors=self.errors + other.errors,
            unavailable=self.unavailable + other.unavailable,
            contract_errors=self.contract_errors + other.contract_errors,
            shadow_agreed=self.shadow_agreed + other.shadow_agreed,
            shadow_disagreed=self.shadow_disagreed + other.shadow_disagreed,
        )

    @property
    def availability(self) -> float | None:
        """The share of calls the source answered (None without calls)."""
        return 1 - self.unavailable / self.calls if self.calls else None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class BacklogCount:
    """Open tickets of one canonical status in one age bucket (on ``day``, for the trend)."""

    status: str
    age_bucket: str
    tickets: int
    day: date | None = None


@dataclass(frozen=True, slots=True)
class RecordVolume:
    """Records of one source the sync runs could not use or found duplicate (on ``day``, for
    the trend; None: the whole window)."""

    source: Source
    #: Emails and phones that did not normalise (the run's ``skipped_invalid``).
    failed: int
    #: Records whose match rules found several customers (the run's ``ambiguous``): possible
    #: duplicates, for the data-quality review.
    duplicates: int
    day: date | None = None


@dataclass(frozen=True, slots=True)
class DuplicateCandidates:
    """The data-quality report's duplicate candidates (pairs of customers that may be one
    person) as last counted on ``day``."""

    day: date
    candidates: int


@dataclass(frozen=True, slots=True)
class EventLatency:
    """Webhook events of one source, from received to applied (on ``day``, for the trend;
    None: the whole window)."""

    source: Source
    events: int
    p50_seconds: float | None
    p99_seconds: float | None
    day: date | None = None


@dataclass(frozen=True, slots=True)
class IntegrationKpis:
    """The integration's KPIs since a time."""

    since: datetime
    #: Sync runs started since, by outcome (``succeeded``, ``failed``, ``running``).
    sync_runs: Mapping[str, int]
    sources: tuple[SourceKpis, ...]
    #: Each source's calls per UTC day since ``since``'s day (every instance's).
    sources_trend: tuple[SourceCallDay, ...] = ()
    #: Open tickets now, by canonical status and age bucket (as the last refresh found them).
    backlog: tuple[BacklogCount, ...] = ()
    #: The same, one set per day since ``since`` (``day`` set).
    backlog_trend: tuple[BacklogCount, ...] = ()
    #: Failed and duplicate records per source over the window (``day`` None).
    record_volume: tuple[RecordVolume, ...] = ()
    #: The same per day and source.
    record_volume_trend: tuple[RecordVolume, ...] = ()
    #: The duplicate candidates per day (each day's last count), since ``since``'s day.
    duplicate_candidates_trend: tuple[DuplicateCandidates, ...] = ()
    #: Webhook event latency per source over the window (``day`` None).
    event_latency: tuple[EventLatency, ...] = ()
    #: The same per day and source.
    event_latency_trend: tuple[EventLatency, ...] = ()

    @property
    def sync_success_rate(self) -> float | None:
        """Succeeded over finished runs (None: none finished)."""
        finished = self.sync_runs.get("succeeded", 0) + self.sync_runs.get("failed", 0)
        return self.sync_runs.get("succeeded", 0) / finished if finished else None


class IntegrationKpiReader(Protocol):
    """Computes the KPIs since a time."""

    async def integration_kpis(self, since: datetime) -> IntegrationKpis: ...
