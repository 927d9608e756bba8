"""``integrationKpis``: the integration's health as operations leaders read it (supervisors
and platform operators)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import strawberry

from kernel.client_errors import BadUserInput, Forbidden, GatewayError
from kernel.integration_kpis import BacklogCount, EventLatency, RecordVolume, SourceCallDay
from kernel.integration_kpis import IntegrationKpis as Kpis
from kernel.rollout import RolloutMode
from resolvers.types.common import Info, Source, TicketStatus

KPI_ROLES = frozenset({"supervisor", "operator"})
#: Without ``since``: the last day.
DEFAULT_WINDOW = timedelta(days=1)


@strawberry.type(description="Sync runs of one outcome.")
class SyncRunCount:
    outcome: str
    runs: int


@strawberry.type(
    name="BacklogCount",
    description="Open tickets of one canonical status in one age bucket (UNDER_1D, D1_3, "
    "D3_7, OVER_7D); `day` in the trend.",
)
class BacklogCountView:
    status: TicketStatus
    age_bucket: str
    tickets: int
    day: date | None


@strawberry.type(
    name="RecordVolume",
    description="Records of one source the identity sync runs started in the window could not "
    "use (failed: emails and phones that did not normalise) or found duplicate (records whose "
    "match rules found several customers); `day` in the trend.",
)
class RecordVolumeView:
    source: Source
    failed: int
    duplicates: int
    day: date | None

    @classmethod
    def of(cls, volume: RecordVolume) -> RecordVolumeView:
        return cls(
            source=volume.source,
            failed=volume.failed,
            duplicates=volume.duplicates,
            day=volume.day,
        )


@strawberry.type(
    name="DuplicateCandidates",
    description="The data-quality report's duplicate candidates (pairs of customers that may "
    "be one person) as last counted on a UTC day.",
)
class DuplicateCandidatesView:
    day: date
    candidates: int


@strawberry.type(
    name="EventLatency",
    description="Webhook events of one source received in the window, from received to "
    "applied (stamped in the transaction that applies it, before its commit) in seconds; "
    "`day` in the trend.",
)
class EventLatencyView:
    source: Source
    events: int
    p50_seconds: float | None
    p99_seconds: float | None
    day: date | None

    @classmethod
    def of(cls, latency: EventLatency) -> EventLatencyView:
        return cls(
            source=latency.source,
            events=latency.events,
            p50_seconds=latency.p50_seconds,
            p99_seconds=latency.p99_seconds,
            day=latency.day,
        )


@strawberry.type(
    name="SourceKpis",
    description="One source over the window: its calls from every gateway instance, counted "
    "per UTC day (the window's days, from the day of `since`); its p99 latency this "
    "process's own calls.",
)
class SourceKpisView:
    source: Source
    mode: RolloutMode
    calls: int
    availability: float | None = strawberry.field(
        description="Share of calls the source answered (not unavailable, timed out, rate "
        "limited, circuit open or busy); null without calls."
    )
    error_rate: float = strawberry.field(description="Share of calls that failed.")
    latency_p99_seconds: float | None = strawberry.field(
        description="99th percentile of this process's calls' time over the window (at most "
        "its last 20,000); null without calls."
    )
    shadow_agreed: int = strawberry.field(description="SHADOW: reads that agreed.")
    shadow_disagreed: int = strawberry.field(description="SHADOW: reads that disagreed.")


@strawberry.type(
    name="SourceCallDay",
    description="One source's calls on one UTC day, from every gateway instance: the "
    "per-source KPIs' trend.",
)
class SourceCallDayView:
    day: date
    source: Source
    calls: int
    availability: float | None = strawberry.field(
        description="Share of the day's calls the source answered; null without calls."
    )
    error_rate: float = strawberry.field(description="Share of the day's calls that failed.")
    contract_errors: int = strawberry.field(
        description="Answers not of the vendor's contract (UPSTREAM_CONTRACT)."
    )
    shadow_agreed: int
    shadow_disagreed: int

    @classmethod
    def of(cls, day: SourceCallDay) -> SourceCallDayView:
        assert day.day is not None  # the trend's figures are each one day's
        return cls(
            day=day.day,
            source=day.source,
            calls=day.calls,
            availability=day.availability,
            error_rate=day.error_rate,
            contract_errors=day.contract_errors,
            shadow_agreed=day.shadow_agreed,
            shadow_disagreed=day.shadow_disagreed,
        )


@strawberry.type(name="IntegrationKpis", description="The integration's KPIs since a time.")
class IntegrationKpisView:
    since: datetime
    sync_runs: list[SyncRunCount] = strawberry.field(description="Sync runs started since.")
    sync_success_rate: float | None = strawberry.field(
        description="Succeeded over finished sync runs; null when none finished."
    )
    sources: list[SourceKpisView]
    sources_trend: list[SourceCallDayView] = strawberry.field(
        description="Each source's calls per UTC day, from the day of `since` on."
    )
    backlog: list[BacklogCountView] = strawberry.field(
        description="Open tickets now by status and age, as the last facts refresh found them."
    )
    backlog_trend: list[BacklogCountView] = strawberry.field(
        description="The backlog of each day since `since` (each day's last refresh)."
    )
    record_volume: list[RecordVolumeView] = strawberry.field(
        description="Failed and duplicate records per source, over the window."
    )
    record_volume_trend: list[RecordVolumeView] = strawberry.field(
        description="The same per UTC day."
    )
    duplicate_candidates_trend: list[DuplicateCandidatesView] = strawberry.field(
        description="The data-quality duplicate candidates per UTC day (each day's last "
        "count, taken by the dataQuality report or the /metrics scrape), from the day of "
        "`since` on."
    )
    event_latency: list[EventLatencyView] = strawberry.field(
        description="Webhook event latency (received to applied) per source, over the window."
    )
    event_latency_trend: list[EventLatencyView] = strawberry.field(
        description="The same per UTC day."
    )

    @classmethod
    def from_kpis(cls, kpis: Kpis) -> IntegrationKpisView:
        return cls(
            since=kpis.since,
            sync_runs=[
                SyncRunCount(outcome=outcome, runs=runs)
                for outcome, runs in sorted(kpis.sync_runs.items())
            ],
            sync_success_rate=kpis.sync_success_rate,
            sources=[
                SourceKpisView(
                    source=s.source,
                    mode=s.mode,
                    calls=s.calls,
                    availability=s.availability,
                    error_rate=s.error_rate,
                    latency_p99_seconds=s.latency_p99_seconds,
                    shadow_agreed=s.shadow_agreed,
                    shadow_disagreed=s.shadow_disagreed,
                )
                for s in kpis.sources
            ],
            sources_trend=[SourceCallDayView.of(day) for day in kpis.sources_trend],
            backlog=[_count(c) for c in kpis.backlog],
            backlog_trend=[_count(c) for c in kpis.backlog_trend],
            record_volume=[RecordVolumeView.of(v) for v in kpis.record_volume],
            record_volume_trend=[RecordVolumeView.of(v) for v in kpis.record_volume_trend],
            duplicate_candidates_trend=[
                DuplicateCandidatesView(day=d.day, candidates=d.candidates)
                for d in kpis.duplicate_candidates_trend
            ],
            event_latency=[EventLatencyView.of(e) for e in kpis.event_latency],
            event_latency_trend=[EventLatencyView.of(e) for e in kpis.event_latency_trend],
        )


def _count(count: BacklogCount) -> BacklogCountView:
    return BacklogCountView(
        status=TicketStatus(count.status),
        age_bucket=count.age_bucket,
        tickets=count.tickets,
        day=count.day,
    )


@strawberry.type
class KpiQuery:
    @strawberry.field(
        description="The integration's KPIs since `since` (default: a day ago), for "
        "supervisors and platform operators: sync runs by outcome, failed and duplicate "
        "records, webhook event latency, the ticket backlog, and per source its mode, "
        "availability, error rate, p99 latency and shadow agreement."
    )
    async def integration_kpis(
        self, info: Info, since: datetime | None = None
    ) -> IntegrationKpisView:
        context = info.context
        if context.principal.role not in KPI_ROLES:
            raise Forbidden(f"role {context.principal.role} may not read the KPIs")
        if context.kpis is None:
            raise GatewayError("the KPIs are not available")
        now = datetime.now(UTC)
        since = since or now - DEFAULT_WINDOW
        if since.tzinfo is None:
            raise BadUserInput("since must carry its time zone")
        if since > now:
            raise BadUserInput("since must not be in the future")
        return IntegrationKpisView.from_kpis(await context.kpis.integration_kpis(since))
