"""The gateway's one ``Settings``: environment (prefix ``SCV_``), then an optional TOML file.

Nested sections use ``__`` in environment names: ``SCV_BILLING__BASE_URL``,
``SCV_AUTH__ISSUER``. ``SCV_CONFIG_FILE`` names a TOML file with the same keys
(``[billing] base_url = ...``); the environment wins over the file. Settings are built once,
in ``create_app`` or the CLI, and handed down: no module reads a global settings object.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from adapters.config import BillingSettings, CrmSettings, IvrSettings, SupportSettings

MatchRule = Literal["xref", "email", "phone"]

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


class IdentitySettings(BaseModel):
    """How records from the systems are linked into one customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(
        default="US", description="ISO country for phone numbers written without +country"
    )
    match_rules: tuple[MatchRule, ...] = Field(
        default=("xref", "email", "phone"),
        description="linking rules, tried in this order: explicit cross-reference, email, phone",
    )


class Settings(BaseSettings):
    """Everything the gateway, the sync and the demo can be told."""

    model_config = SettingsConfigDict(
        env_prefix="SCV_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    demo: bool = Field(default=False, description="demo mode: GraphiQL, generated keys")
    host: str = Field(default="127.0.0.1", description="address the gateway listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="port the gateway listens on")
    data_dir: Path = Field(
        default=Path(".scv"), description="embedded PostgreSQL data and demo keys live here"
    )
    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset: the embedded server under data_dir"
    )
    database_pool_size: int = Field(default=10, ge=1, description="asyncpg pool max size")
    log_level: str = Field(default="INFO", description="root log level")

    auth: AuthSettings = AuthSettings()
    identity: IdentitySettings = IdentitySettings()
    billing: BillingSettings = BillingSettings()
    crm: CrmSettings = CrmSettings()
    support: SupportSettings = SupportSettings()
    ivr: IvrSettings = IvrSettings()

    @model_validator(mode="after")
    def _no_unknown_environment_names(self) -> Settings:
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
