"""Settings of security: bearer tokens (``SCV_AUTH__...``) and the PII audit trail
(``SCV_AUDIT__...``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AuditSettings(BaseModel):
    """How the audit trail is written and how long it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    write_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="longest wait for a request's audit batch; past it personal fields are "
        "withheld (AUDIT_UNAVAILABLE)",
    )
    group_writes: bool = Field(
        default=True,
        description="concurrent requests' entries written in one INSERT, each request still "
        "waiting for its own rows to commit (and failing closed with its group)",
    )
    retention_days: int = Field(
        default=400,
        ge=1,
        description="`scv audit-prune` deletes entries older than this many days",
    )


class AuthSettings(BaseModel):
    """How bearer tokens are checked (and, in demo mode, minted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(default="scv-demo", description="required `iss` of bearer tokens")
    audience: str = Field(default="scv-gateway", description="required `aud` of bearer tokens")
    algorithms: tuple[str, ...] = Field(
        default=("RS256",), description="allowed signature algorithms; never `none` or HS*"
    )
    public_key_pem: SecretStr | None = Field(
        default=None,
        description="PEM public key(s) that sign bearer tokens: several (during a rotation) "
        "are told apart by `kid`, their RFC 7638 thumbprint",
    )
    public_key_file: Path | None = Field(
        default=None, description="file holding that PEM key, or several"
    )
    jwks_url: str | None = Field(default=None, description="JWKS URL of the token issuer")
    jwks_file: Path | None = Field(
        default=None,
        description="file holding the issuer's JWKS, read again when it changes (a key added "
        "to it verifies with no restart)",
    )
    jwks_refetch_seconds: float = Field(
        default=60.0,
        ge=0,
        description="at most one fetch of jwks_url per this many seconds (an unknown `kid` "
        "asks for one)",
    )
    jwks_max_age_seconds: float = Field(
        default=300.0,
        gt=0,
        description="jwks_url's keys are fetched again at the first token after they are "
        "this old (an issuer publishes a new key this long before signing with it)",
    )
    role_claim: str = Field(default="role", description="the claim that carries the role")
    tenants_claim: str = Field(
        default="tenants",
        description="the claim that carries the tenants a token may act for: a list of "
        "names, or one string of names separated by spaces",
    )
    leeway_seconds: float = Field(default=30.0, ge=0, description="clock skew allowed")
