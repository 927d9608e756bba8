"""The gateway's one ``Settings``: environment (prefix ``SCV_``), then an optional TOML file.

Nested sections use ``__`` in environment names: ``SCV_BILLING__BASE_URL``,
``SCV_AUTH__ISSUER``. ``SCV_CONFIG_FILE`` names a TOML file with the same keys
(``[billing] base_url = ...``); the environment wins over the file. Settings are built once,
in ``create_app`` or the CLI, and handed down: no module reads a global settings object.

Each registered source (``adapters.registry.SOURCES``) has a section of its own model, named
after it; ``Settings`` is made from the registry, so a new source's section needs no change
here. Code reaches a section with ``settings.source(name)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.registry import SOURCES
from adapters.settings import SourceSettings
from app.analytics.settings import CustomersSettings
from app.cache.settings import CacheSettings
from app.exports.settings import ExportSettings
from app.identity.sync.settings import SyncSettings
from app.limits.settings import PersistedQuerySettings, QueryLimitSettings
from app.observability.tracing import TracingSettings
from app.resilience.fair_share import Audience
from app.security.audit_settings import AuditSettings
from app.webhooks.settings import WebhookSettings
from kernel.models import Source

MatchRule = Literal["xref", "email", "phone"]

#: How sure a link made by each rule is, unless configured otherwise.
DEFAULT_RULE_CONFIDENCE: Mapping[MatchRule, float] = {"xref": 1.0, "email": 0.9, "phone": 0.7}

#: ``SCV_`` variables that are not settings: the config file's name, and the test suite's.
NOT_SETTINGS = frozenset({"SCV_CONFIG_FILE", "SCV_TEST_DATABASE_URL", "SCV_TEST_REDIS_URL"})


class AuthSettings(BaseModel):
    """How bearer tokens are checked (and, in demo mode, minted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(default="scv-demo", description="required `iss` of bearer tokens")
    audience: str = Field(default="scv-gateway", description="required `aud` of bearer tokens")
    algorithms: tuple[str, ...] = Field(
        default=("RS256",), description="allowed signature algorithms; never `none` or HS*"
    )
    public_key_pem: SecretStr | None = Field(
        default=None, description="PEM public key that signs bearer tokens"
    )
    public_key_file: Path | None = Field(default=None, description="file holding that PEM key")
    jwks_url: str | None = Field(default=None, description="JWKS URL of the token issuer")
    role_claim: str = Field(default="role", description="the claim that carries the role")
    leeway_seconds: float = Field(default=30.0, ge=0, description="clock skew allowed")


class SystemOfRecordSettings(BaseModel):
    """Which system's value of each fact is believed when the systems disagree.

    Used by ``SourcedValue.isSystemOfRecord`` and ``FieldConflict.chosen``; when the system
    of record holds no value, the next of CRM, BILLING, SUPPORT, IVR that has one is chosen.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Source = Field(default=Source.CRM, description="system of record for names")
    email: Source = Field(default=Source.CRM, description="system of record for emails")
    phone: Source = Field(default=Source.CRM, description="system of record for phones")
    address: Source = Field(default=Source.CRM, description="system of record for addresses")
    balance: Source = Field(default=Source.BILLING, description="system of record for balances")
    money: Source = Field(
        default=Source.BILLING, description="system of record for subscriptions and invoices"
    )
    tickets: Source = Field(default=Source.SUPPORT, description="system of record for tickets")

    def as_mapping(self) -> dict[str, Source]:
        """Fact name -> source, as the resolvers take it."""
        return {name: getattr(self, name) for name in type(self).model_fields}


class IdentitySettings(BaseModel):
    """How records from the systems are linked into one customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(
        default="US", description="ISO country for phone numbers written without +country"
    )
    system_of_record: SystemOfRecordSettings = Field(
        default_factory=SystemOfRecordSettings,
        description="which system's value of each fact is believed (conflicts, contact points)",
    )
    match_rules: tuple[MatchRule, ...] = Field(
        default=("xref", "email", "phone"),
        description="linking rules, tried in this order: explicit cross-reference, email, phone",
    )
    rule_confidence: dict[MatchRule, Annotated[float, Field(gt=0, le=1)]] = Field(
        default_factory=lambda: dict(DEFAULT_RULE_CONFIDENCE),
        description=(
            "how sure a link made by each rule is (0 < c <= 1), stored with the link; rules "
            "left out keep their default (xref 1.0, email 0.9, phone 0.7; anchors and people 1.0)"
        ),
    )
    live_linking: bool = Field(
        default=True,
        description="a lookup the store cannot answer searches the systems and links what it finds",
    )
    live_miss_ttl_seconds: float = Field(
        default=60.0,
        ge=0,
        description="a live lookup that found nothing anywhere is not repeated for this long",
    )
    live_miss_max_entries: int = Field(
        default=10_000, ge=1, description="live misses remembered per process (oldest go first)"
    )

    @field_validator("rule_confidence", mode="after")
    @classmethod
    def _every_rule_has_a_confidence(cls, given: dict[MatchRule, float]) -> dict[MatchRule, float]:
        # A partial mapping (SCV_IDENTITY__RULE_CONFIDENCE='{"email": 0.8}') overrides only
        # the rules it names.
        return {**DEFAULT_RULE_CONFIDENCE, **given}


AuthMethod = Literal["PIN", "OTP", "KBA", "VOICE_BIOMETRIC"]
LevelName = Literal["NONE", "LOW", "MEDIUM", "HIGH"]


class LevelRule(BaseModel):
    """One row of the verification table: an AUTHENTICATED method (and score) gives a level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: AuthMethod = Field(description="how the caller was verified")
    min_score: float | None = Field(
        default=None, ge=0, le=1, description="lowest auth_score for this row; unset: any score"
    )
    level: LevelName = Field(description="the verification level this row gives")


#: Possession or knowledge of a secret is MEDIUM; a voice match is HIGH only when confident.
DEFAULT_LEVEL_RULES = (
    LevelRule(method="PIN", level="MEDIUM"),
    LevelRule(method="OTP", level="MEDIUM"),
    LevelRule(method="KBA", level="MEDIUM"),
    LevelRule(method="VOICE_BIOMETRIC", min_score=0.9, level="HIGH"),
    LevelRule(method="VOICE_BIOMETRIC", min_score=0.6, level="LOW"),
)


class HandoffSettings(BaseModel):
    """How IVR handoffs (signed JWS) are checked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    jwks_url: str | None = Field(
        default=None,
        description="JWKS of the IVR's signing keys; unset: `<ivr.base_url>/.well-known/jwks.json`",
    )
    issuer: str = Field(default="scv-sandbox-ivr", description="required `iss` of handoffs")
    audience: str = Field(default="scv-gateway-ivr", description="required `aud` of handoffs")
    algorithms: tuple[str, ...] = Field(
        default=("ES256",), description="allowed signature algorithms; never `none` or HS*"
    )
    max_lifetime_seconds: int = Field(
        default=300, ge=1, le=300, description="longest allowed `exp` - `iat` (at most 300)"
    )
    leeway_seconds: float = Field(default=30.0, ge=0, le=120, description="clock skew allowed")
    jwks_refetch_seconds: float = Field(
        default=60.0, ge=0, description="at most one JWKS refetch per this many seconds"
    )
    level_rules: tuple[LevelRule, ...] = Field(
        default=DEFAULT_LEVEL_RULES,
        description="verification table: the highest matching row wins; not AUTHENTICATED: NONE",
    )


class InteractionSettings(BaseModel):
    """Interactions (calls) on the agent's side, and the grant tokens the gateway signs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signing_key_file: Path | None = Field(
        default=None,
        description="PEM EC P-256 private key that signs interaction tokens; demo: generated",
    )
    issuer: str = Field(default="scv-gateway", description="`iss` of interaction tokens")
    audience: str = Field(default="scv-agent-desktop", description="`aud` of interaction tokens")
    token_ttl_seconds: int = Field(
        default=900, ge=30, le=3600, description="lifetime of an interaction token"
    )
    expiry_seconds: int = Field(
        default=4 * 3600, ge=60, description="an interaction expires this long after its handoff"
    )
    kba_max_attempts: int = Field(
        default=3, ge=1, le=10, description="knowledge checks allowed per interaction"
    )
    leeway_seconds: float = Field(default=10.0, ge=0, le=120, description="clock skew allowed")


class GatewaySettings(BaseSettings):
    """Everything the gateway, the sync and the demo can be told, but the sources' sections.

    ``Settings`` is this with one section per registered source.
    """

    model_config = SettingsConfigDict(
        env_prefix="SCV_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        # A refused value may be a URL with a password or a key: errors name the setting only.
        hide_input_in_errors=True,
    )

    demo: bool = Field(default=False, description="demo mode: GraphiQL, generated keys")
    host: str = Field(default="127.0.0.1", description="address the gateway listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port the gateway listens on")
    workers: int = Field(
        default=1, ge=1, le=64, description="`scv serve` worker processes (one per core is usual)"
    )
    analyst_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description=(
            "serve analysts from processes of their own on this port (lower CPU priority); "
            "the main port then refuses analysts and this one everyone else (421 WRONG_PORT)"
        ),
    )
    analyst_workers: int = Field(
        default=1, ge=1, le=64, description="worker processes serving SCV_ANALYST_PORT"
    )
    analyst_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="how much lower the analyst processes' CPU priority is (Unix nice)",
    )
    audience: Audience = Field(
        default="all",
        description=(
            "whom this process serves: all, agents (everyone but analysts) or analysts; "
            "`scv serve` sets it for its two groups when SCV_ANALYST_PORT is set"
        ),
    )
    data_dir: Path = Field(
        default=Path(".scv"), description="embedded PostgreSQL data and demo keys live here"
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset: the embedded server under data_dir"
    )
    database_pool_size: int = Field(default=10, ge=1, description="asyncpg pool max size")
    log_level: str = Field(default="INFO", description="root log level")
    request_deadline_seconds: float = Field(
        default=2.0,
        gt=0,
        description="each GraphQL request's budget: every upstream call is capped by what is left",
    )

    auth: AuthSettings = AuthSettings()
    identity: IdentitySettings = IdentitySettings()
    handoff: HandoffSettings = HandoffSettings()
    interactions: InteractionSettings = InteractionSettings()
    webhooks: WebhookSettings = WebhookSettings()
    customers: CustomersSettings = Field(
        default_factory=CustomersSettings,
        description="pages of customers for analysts and the customer_facts read model",
    )
    cache: CacheSettings = Field(
        default_factory=CacheSettings,
        description="the response cache (app/cache/response_cache.py)",
    )
    audit: AuditSettings = Field(
        default_factory=AuditSettings, description="the PII audit trail (app/security/audit.py)"
    )
    sync: SyncSettings = Field(
        default_factory=SyncSettings,
        description="scv sync: incremental reads' overlap and the progress line "
        "(app/identity/sync/runner.py)",
    )
    exports: ExportSettings = Field(
        default_factory=ExportSettings, description="analysts' export jobs (app/exports/jobs.py)"
    )
    limits: QueryLimitSettings = Field(
        default_factory=QueryLimitSettings,
        description="depth, aliases, tokens, body size, first, cost and budget of GraphQL requests",
    )
    persisted_queries: PersistedQuerySettings = Field(
        default_factory=PersistedQuerySettings,
        description="automatic persisted queries (APQ) and the allow-list mode",
    )
    tracing: TracingSettings = Field(
        default_factory=TracingSettings,
        description="OpenTelemetry spans (app/observability/tracing.py; the otel extra)",
    )

    def source(self, source: Source) -> SourceSettings:
        """The settings section of ``source`` (``SCV_<NAME>__...``), of its own model."""
        section = getattr(self, source.value.lower(), None)
        if not isinstance(section, SourceSettings):
            raise KeyError(f"no settings section for the source {source.value}")
        return section

    @model_validator(mode="after")
    def _no_unknown_environment_names(self) -> GatewaySettings:
        # pydantic-settings ignores SCV_ names that match no field, so a typo such as
        # SCV_BILING__BASE_URL would silently leave billing at its default.
        unknown = unknown_environment_names(os.environ, type(self))
        if unknown:
            raise ValueError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("SCV_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


if TYPE_CHECKING:
    Settings = GatewaySettings
else:
    Settings = create_model(
        "Settings",
        __base__=GatewaySettings,
        __doc__="Everything the gateway, the sync and the demo can be told.",
        **{
            spec.name: (
                spec.settings_model,
                Field(
                    default_factory=spec.settings_model,
                    description=f"{spec.name}, the system of record for "
                    f"{spec.system_of_record_for}",
                ),
            )
            for spec in SOURCES
        },
    )


def unknown_environment_names(environ: Mapping[str, str], model: type[BaseModel]) -> list[str]:
    """``SCV_`` variables in ``environ`` whose top-level name is no setting of ``model``.

    Names inside a section (``SCV_BILLING__BASE_ULR``) need no check here: every section
    forbids extra fields, so pydantic already refuses them.
    """
    return [
        name
        for name in sorted(environ)
        if name.startswith("SCV_")
        and name not in NOT_SETTINGS
        and name[len("SCV_") :].lower().partition("__")[0] not in model.model_fields
    ]
