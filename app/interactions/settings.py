"""Settings of calls: the IVR's handoffs (``SCV_HANDOFF__...``) and interactions
(``SCV_INTERACTIONS__...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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
    jwks_max_age_seconds: float = Field(
        default=300.0,
        gt=0,
        description="the IVR's keys are fetched again at the first handoff after they are "
        "this old (the IVR publishes a new key this long before signing with it)",
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
    previous_signing_key_files: tuple[Path, ...] = Field(
        default=(),
        description="keys that signed before signing_key_file (oldest first): their tokens "
        "still verify; drop one once token_ttl_seconds have passed since it stopped signing",
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
