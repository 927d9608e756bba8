"""The gateway's one ``Settings``: environment (prefix ``SCV_``), then an optional TOML file.

Nested sections use ``__`` in environment names: ``SCV_BILLING__BASE_URL``,
``SCV_AUTH__ISSUER``. ``SCV_CONFIG_FILE`` names a TOML file with the same keys
(``[billing] base_url = ...``). ``SCV_SECRETS_DIR`` names a directory of secret files, one
setting a file named as its variable (``SCV_DATABASE_URL``, ``SCV_AUTH__PUBLIC_KEY_PEM``), as
container platforms mount secrets. The environment wins over the secret files, and both over
the TOML file. Settings are built once,
in ``create_app`` or the CLI, and handed down: no module reads a global settings object.

Each registered source (``adapters.registry.SOURCES``) has a section of its own model, named
after it; ``Settings`` is made from the registry, so a new source's section needs no change
here. Code reaches a section with ``settings.source(name)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.registry import SOURCES
from adapters.settings import HttpSourceSettings, SourceSettings
from app.analytics.settings import CustomersSettings
from app.cache.settings import CacheSettings
from app.exports.settings import ExportSettings
from app.identity.settings import IdentitySettings
from app.identity.sync.settings import SyncSettings
from app.interactions.settings import HandoffSettings, InteractionSettings
from app.kpis.settings import KpiSettings
from app.limits.settings import PersistedQuerySettings, QueryLimitSettings
from app.live.settings import LiveSettings
from app.observability.tracing import TracingSettings
from app.resilience.fair_share import Audience
from app.resilience.settings import InstanceSharingSettings
from app.rollout.settings import InstanceRolloutSettings
from app.secrets.settings import SecretsSettings
from app.security.settings import AuditSettings, AuthSettings
from app.tenancy.settings import TenancySettings
from app.tenancy.sources import TenantSources
from app.webhooks.settings import WebhookSettings
from app.whole_response.settings import WholeResponseSettings
from app.writes.settings import WritesSettings
from kernel.models import Source
from kernel.tenancy import TenantId, tenant_id

#: ``SCV_`` variables that are not settings: the config file's and the secrets directory's
#: names, and the test suite's.
NOT_SETTINGS = frozenset(
    {"SCV_CONFIG_FILE", "SCV_SECRETS_DIR", "SCV_TEST_DATABASE_URL", "SCV_TEST_REDIS_URL"}
)


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
    sandbox_port: int = Field(
        default=8100,
        ge=1,
        le=65535,
        description="`scv demo`: the sandbox systems' port (`make run SANDBOX_PORT=...`)",
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
    shutdown_grace_seconds: int = Field(
        default=25,
        ge=1,
        le=3600,
        description=(
            "on SIGTERM a worker stops accepting and finishes the requests it holds for at most "
            "this long before it exits; keep it below your process manager's kill timeout"
        ),
    )
    shutdown_drain_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description=(
            "on SIGTERM, before that: a worker stops accepting and answers with "
            "`Connection: close` until its clients have moved to other workers, this long at "
            "most (0: off)"
        ),
    )
    data_dir: Path = Field(
        default=Path(".scv"), description="embedded PostgreSQL data and demo keys live here"
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset: the embedded server under data_dir"
    )
    database_migration_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL of the schema's owner, for `scv migrate` only (the gateway's "
        "own role needs no DDL rights: docs/key-rotation.md); unset: SCV_DATABASE_URL",
    )
    database_pool_size: int = Field(default=10, ge=1, description="asyncpg pool max size")
    log_level: str = Field(default="INFO", description="root log level")
    request_deadline_seconds: float = Field(
        default=2.0,
        gt=0,
        description="each GraphQL request's budget: every upstream call is capped by what is left",
    )

    auth: AuthSettings = AuthSettings()
    tenancy: TenancySettings = Field(
        default_factory=TenancySettings,
        description="the tenants (clients) served and how a request names its own "
        "(app/tenancy, docs/tenancy.md)",
    )
    tenants: dict[TenantId, TenantSources] = Field(
        default_factory=dict,
        description="each served tenant but the default one: its own source sections "
        "(`SCV_TENANTS__GLOBEX__BILLING__BASE_URL`); the top-level sections are the default "
        "tenant's, and a tenant without a source's section has no such source "
        "(app/tenancy/sources.py, docs/tenancy.md)",
    )
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
    whole_response: WholeResponseSettings = Field(
        default_factory=WholeResponseSettings,
        description="answers kept per disclosure (app/whole_response/cache.py)",
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
    fair_share: InstanceSharingSettings = Field(
        default_factory=InstanceSharingSettings,
        description="how one instance's processes share agents' latency and sources' rates",
    )
    writes: WritesSettings = Field(
        default_factory=WritesSettings,
        description="writes to the systems of record: who may, limits, the outbox "
        "(app/writes/, docs/writes.md)",
    )
    limits: QueryLimitSettings = Field(
        default_factory=QueryLimitSettings,
        description="depth, aliases, tokens, body size, first, cost and budget of GraphQL requests",
    )
    persisted_queries: PersistedQuerySettings = Field(
        default_factory=PersistedQuerySettings,
        description="automatic persisted queries (APQ) and the allow-list mode",
    )
    kpis: KpiSettings = Field(
        default_factory=KpiSettings,
        description="how often each process adds its counted calls to the integration KPIs' "
        "daily series (docs/rollout.md)",
    )
    rollout: InstanceRolloutSettings = Field(
        default_factory=InstanceRolloutSettings,
        description="how often supervisors' rollout changes are read, and shadow reads' room "
        "(each source's mode is its own section's `rollout`)",
    )
    tracing: TracingSettings = Field(
        default_factory=TracingSettings,
        description="OpenTelemetry spans (app/observability/tracing.py; the otel extra)",
    )
    live: LiveSettings = Field(
        default_factory=LiveSettings,
        description="GraphQL subscriptions and the engine carrying changes between "
        "instances (app/live)",
    )
    secrets: SecretsSettings = Field(
        default_factory=SecretsSettings,
        description="secrets read again from SCV_SECRETS_DIR while the gateway runs (app/secrets)",
    )

    def source(self, source: Source) -> SourceSettings:
        """The settings section of ``source`` (``SCV_<NAME>__...``), of its own model."""
        section = getattr(self, source.value.lower(), None)
        if not isinstance(section, SourceSettings):
            raise KeyError(f"no settings section for the source {source.value}")
        return section

    def tenant_source(self, tenant: TenantId, source: Source) -> SourceSettings | None:
        """``tenant``'s own section of ``source``: the top-level one for the default tenant,
        ``SCV_TENANTS__<TENANT>__<SOURCE>__...`` for another; None when it has none (never
        another tenant's)."""
        if tenant == self.tenancy.default_tenant:
            return self.source(source)
        own = self.tenants.get(tenant)
        return own.section(source) if own is not None else None

    def http_source(self, source: Source) -> HttpSourceSettings:
        """The section of ``source``, a source reached over HTTP (its ``base_url``)."""
        section = self.source(source)
        if not isinstance(section, HttpSourceSettings):
            raise TypeError(f"the source {source.value} is not reached over HTTP")
        return section

    @field_validator("tenants", mode="before")
    @classmethod
    def _tenant_names(cls, sections: object) -> object:
        if isinstance(sections, dict):
            return {
                tenant_id(name) if isinstance(name, str) else name: value
                for name, value in sections.items()
            }
        return sections

    @model_validator(mode="after")
    def _tenant_sections_are_served_tenants(self) -> GatewaySettings:
        for tenant in self.tenants:
            if tenant == self.tenancy.default_tenant:
                raise ValueError(
                    f"tenants.{tenant}: the default tenant's sources are the top-level "
                    "sections (SCV_<SOURCE>__...), not a tenant section"
                )
            if tenant not in self.tenancy.tenants:
                raise ValueError(f"tenants.{tenant}: not a served tenant (SCV_TENANCY__TENANTS)")
        return self

    @model_validator(mode="after")
    def _no_unknown_environment_names(self) -> GatewaySettings:
        # pydantic-settings ignores SCV_ names that match no field, so a typo such as
        # SCV_BILING__BASE_URL would silently leave billing at its default.
        unknown = unknown_environment_names(os.environ, type(self))
        if unknown:
            raise ValueError(f"unknown setting(s) in the environment: {', '.join(unknown)}")
        secrets_dir = os.environ.get("SCV_SECRETS_DIR")
        if secrets_dir:
            unknown = unknown_environment_names(secret_file_names(Path(secrets_dir)), type(self))
            if unknown:
                raise ValueError(f"unknown setting(s) in SCV_SECRETS_DIR: {', '.join(unknown)}")
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
        secrets_dir = os.environ.get("SCV_SECRETS_DIR")
        if secrets_dir:
            # pydantic-settings' own reader of secret files, nested sections by "__" as in
            # the environment; a directory that is named but missing is an error, not a warning.
            sources.append(
                NestedSecretsSettingsSource(
                    file_secret_settings,
                    secrets_dir=Path(secrets_dir),
                    secrets_dir_missing="error",
                    secrets_prefix="SCV_",
                    secrets_nested_delimiter="__",
                )
            )
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


def secrets_directory() -> Path | None:
    """``SCV_SECRETS_DIR``, the directory the settings' secret files were read from."""
    named = os.environ.get("SCV_SECRETS_DIR")
    return Path(named) if named else None


def secret_file_names(directory: Path) -> dict[str, str]:
    """The setting names a secrets directory gives, upper-cased as in the environment.

    Hidden entries are skipped, as pydantic-settings skips them (a Kubernetes secret volume
    keeps its ``..data`` links there).
    """
    if not directory.is_dir():
        return {}
    return {
        entry.name.upper(): ""
        for entry in directory.iterdir()
        if not entry.name.startswith(".") and entry.is_file()
    }


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
