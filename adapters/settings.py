"""What every source's settings section has: where it is, its key, timeouts and resilience.

Each source's own section (``adapters/<source>/settings.py``) extends ``SourceSettings``;
``app.settings.Settings`` holds one section per entry of the source registry
(``SCV_BILLING__BASE_URL`` and so on), and an adapter is handed only its own section. The
defaults point at the sandbox served by ``scv sandbox`` so that the demo runs with no
configuration; production sets every base URL and key.

Taxonomy maps (vendor word -> canonical word) live in the sections as configuration: a
vendor that adds a status word needs a settings change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from kernel.rollout import RolloutMode

SANDBOX_URL = "http://127.0.0.1:8100"


@dataclass(frozen=True, slots=True)
class SandboxPlace:
    """Where ``scv demo``'s sandbox keeps the outside world (each registry entry's
    ``in_sandbox`` points its section there)."""

    #: The sandbox's HTTP systems, each under ``/<name>``.
    http_url: str
    #: The PostgreSQL server the sandbox's databases live in (an admin URL), if any.
    database_url: str | None = None


class RetrySettings(BaseModel):
    """Retries of one source's idempotent reads (writes are never retried)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    retries: int = Field(
        default=2, ge=0, le=10, description="extra attempts after the first, idempotent reads only"
    )
    backoff_initial_seconds: float = Field(
        default=0.1, gt=0, description="cap of the first backoff; each later cap doubles"
    )
    backoff_max_seconds: float = Field(
        default=1.0, gt=0, description="largest backoff cap (full jitter: a wait is 0..cap)"
    )
    retry_after_max_seconds: float = Field(
        default=5.0,
        ge=0,
        description="longest 429 Retry-After honoured; it must also fit the request's deadline",
    )


class BreakerSettings(BaseModel):
    """One source's circuit breaker: when to stop calling it, and how to try it again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="off: every call goes to the source")
    consecutive_failures: int = Field(
        default=5, ge=1, description="opens after this many failures in a row"
    )
    failure_rate: float = Field(
        default=0.5, gt=0, le=1, description="or opens when this share of calls in the window fail"
    )
    window_seconds: float = Field(
        default=30.0, gt=0, description="the window over which the failure rate is measured"
    )
    minimum_calls: int = Field(
        default=20, ge=1, description="calls the window needs before its failure rate counts"
    )
    open_seconds: float = Field(
        default=10.0, gt=0, description="how long it stays open before letting probes through"
    )
    half_open_probes: int = Field(
        default=2, ge=1, description="probe calls let through; all must succeed to close it"
    )


class BulkheadSettings(BaseModel):
    """How many calls to one source may be under way at once, so a slow one cannot hog all."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_concurrent: int = Field(
        default=20, ge=1, description="calls under way at once, analysts' calls not counted"
    )
    max_wait_seconds: float = Field(
        default=0.25, ge=0, description="longest wait for a free slot before UPSTREAM_BUSY"
    )
    analyst_max_concurrent: int = Field(
        default=20,
        ge=1,
        description="the most analysts' calls under way at once, on top of max_concurrent "
        "(their own lane, which no other call takes); with fair_share.adaptive the lane's "
        "limit moves between fair_share.min_limit and this",
    )
    analyst_max_wait_seconds: float | None = Field(
        default=None,
        ge=0,
        description="longest wait of an analyst's call in the lane's queue; unset: as long as "
        "the request's deadline allows (a call whose expected wait would pass the deadline is "
        "refused UPSTREAM_BUSY at once)",
    )


class FairShareSettings(BaseModel):
    """How the analysts' lane of one source adapts to agents' load (app/resilience/).

    The lane's limit is AIMD driven by a latency gradient: it grows while neither the
    analysts' latency to the source nor the agents' latency is over ``tolerance`` times its
    baseline, and shrinks by the gradient when one is.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    adaptive: bool = Field(
        default=True,
        description="off: the analysts' lane is fixed at bulkhead.analyst_max_concurrent",
    )
    initial_limit: int = Field(default=4, ge=1, description="the lane's limit at start-up")
    min_limit: int = Field(
        default=1,
        ge=1,
        description="the lowest the limit goes: analysts are slowed, never shut out",
    )
    tolerance: float = Field(
        default=1.1,
        gt=1.0,
        le=3.0,
        description="agents' latency to the source over its baseline that stops the limit "
        "growing; above it the limit shrinks by tolerance / ratio",
    )
    source_tolerance: float = Field(
        default=2.0,
        gt=1.0,
        le=10.0,
        description="the analysts' own latency to the source over its baseline that shrinks "
        "the limit (it also carries their own process's queueing, so it is looser)",
    )
    backoff_ratio: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="the limit's factor after an analyst's call timed out, got a 5xx or a 429",
    )
    baseline_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a latency's baseline is its lowest recent level within this window",
    )
    agents_quiet_seconds: float = Field(
        default=1.0,
        gt=0,
        description="agents' latency older than this is no signal (agents are idle)",
    )


class RateLimitSettings(BaseModel):
    """The calls per second one gateway instance sends a source, agents' and analysts' together.

    A token bucket of ``per_second`` refilled continuously, holding ``burst_seconds`` of it.
    Agents take any token, waiting for one at most until their deadline; analysts only
    while more than ``1 - analyst_share`` of the bucket is left, and none at all for a while
    after the source answers 429 (``analyst_pause_seconds``, or its Retry-After). Each
    source's section sets ``per_second`` from its vendor's published limit (docs/limits.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_second: float | None = Field(
        default=None,
        gt=0,
        description="calls per second to the source from one gateway instance, shared evenly "
        "by its processes; unset: no limit",
    )
    burst_seconds: float = Field(
        default=1.0, gt=0, le=60, description="the bucket holds this many seconds of per_second"
    )
    analyst_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="the part of the bucket analysts may draw on; the rest is kept for agents",
    )
    analyst_pause_seconds: float = Field(
        default=1.0,
        ge=0,
        description="after a 429 without Retry-After, analysts send the source nothing this long",
    )


class RollbackSettings(BaseModel):
    """When a source moves back one phase by itself: its KPIs over the window, checked by
    ``app.rollout.rollback`` (docs/rollout.md#rollback-criteria)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="off: the source never moves back by itself")
    window_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="the KPIs are measured over this window"
    )
    minimum_calls: int = Field(
        default=20, ge=1, description="calls the window needs before its rates count"
    )
    max_error_rate: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="share of failed calls to the source (cancelled "
        "ones not counted) above which it moves back",
    )
    max_contract_errors: int = Field(
        default=5,
        ge=1,
        description="answers not of the vendor's contract (UPSTREAM_CONTRACT) "
        "in the window above which it moves back",
    )
    max_latency_p99_seconds: float = Field(
        default=2.0,
        gt=0,
        description="99th percentile of its calls' time above which it moves back",
    )
    max_disagreement_rate: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="SHADOW: share of shadow reads disagreeing with "
        "the system of record above which it moves back to OFF",
    )
    minimum_comparisons: int = Field(
        default=20,
        ge=1,
        description="SHADOW: comparisons the window needs before its disagreement rate counts",
    )


class SourceRolloutSettings(BaseModel):
    """How far the source is rolled out (docs/rollout.md); a supervisor's change, kept in
    PostgreSQL (``setSourceRollout``), wins over this on every instance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: RolloutMode = Field(
        default=RolloutMode.ON,
        description="OFF: never read; SHADOW: read in the background and compared, never "
        "served; PILOT: served to the pilot cohort only; ON: served to everyone",
    )
    pilot_subjects: frozenset[str] = Field(
        default=frozenset(), description="PILOT: the token subjects it is served to"
    )
    pilot_queues: frozenset[str] = Field(
        default=frozenset(),
        description="PILOT: the queues it is served to (a token's `queue:<name>` scopes)",
    )

    rollback: RollbackSettings = Field(
        default_factory=RollbackSettings,
        description="thresholds on the source's KPIs that move it back one phase",
    )

    @field_validator("mode", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        # Operators write `shadow` as readily as `SHADOW`; the mode itself is one word.
        return value.upper() if isinstance(value, str) else value


class SourceSettings(BaseModel):
    """What every source needs, however it is reached: its resilience.

    How a source is reached is its section's own: ``HttpSourceSettings`` for an API,
    ``adapters.sql.settings.DatabaseSourceSettings`` for a database.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    retry: RetrySettings = Field(
        default_factory=RetrySettings, description="retries of idempotent reads"
    )
    breaker: BreakerSettings = Field(
        default_factory=BreakerSettings, description="the source's circuit breaker"
    )
    bulkhead: BulkheadSettings = Field(
        default_factory=BulkheadSettings, description="bounded concurrent calls to the source"
    )
    fair_share: FairShareSettings = Field(
        default_factory=FairShareSettings,
        description="how the analysts' lane adapts to agents' load",
    )
    rate_limit: RateLimitSettings = Field(
        default_factory=RateLimitSettings,
        description="calls per second to the source, everyone's together",
    )
    rollout: SourceRolloutSettings = Field(
        default_factory=SourceRolloutSettings,
        description="how far the source is rolled out: off, shadow, pilot or on",
    )

    def is_configured(self) -> bool:
        """Whether the section says where the source is (a section that does not leaves
        its panel null with an error, and the sync skips it)."""
        return True


class HttpSourceSettings(SourceSettings):
    """A source reached over HTTP: where it is, how to authenticate, how long to wait."""

    base_url: str
    api_key: SecretStr
    connect_timeout: float = Field(default=1.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(default=2.0, gt=0, description="seconds to wait for an answer")
    page_size: int = Field(default=100, ge=1, le=100, description="records per page when listing")


class SignedWebhooksSettings(HttpSourceSettings):
    """A source that sends signed webhooks (``POST /webhooks/<name>``): its signing secret.

    Each source's section gives the sandbox's secret as the default, so that the demo works
    with no configuration; those are public, and outside demo mode the gateway warns at
    start-up while one is left as it is.
    """

    webhook_secret: SecretStr
    webhook_secret_previous: SecretStr | None = Field(
        default=None,
        description="the secret before webhook_secret, still accepted during a rotation "
        "(docs/key-rotation.md); remove it once the vendor signs with the new one only",
    )

    def webhook_secrets(self) -> tuple[SecretStr, ...]:
        """The secrets a delivery may be signed with: the current one, then the previous."""
        previous = self.webhook_secret_previous
        return (self.webhook_secret,) if previous is None else (self.webhook_secret, previous)

    def webhook_secret_is_default(self) -> bool:
        """Whether the signing secret is still the section's default (the sandbox's)."""
        default = type(self).model_fields["webhook_secret"].default
        return isinstance(default, SecretStr) and (
            default.get_secret_value() == self.webhook_secret.get_secret_value()
        )
