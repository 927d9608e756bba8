"""The IVR handoff: a compact JWS, signed by the IVR platform, saying who rings and how they
were verified. ``HandoffVerifier`` checks it completely before anything is recorded.

Checks, in order (the first that fails names itself in the refusal's code):
header ``typ`` is ``ivr-handoff+jwt`` and ``alg`` on the allow-list (never ``none`` or HMAC,
so a public key can never be used as a shared secret); the key is the IVR's, by ``kid``,
from its JWKS (refetched on an unknown ``kid`` at most once per interval,
``app.security.auth.KeyRing``);
signature, ``iss``, ``aud``, ``exp``, ``iat``, ``nbf`` with a small leeway (PyJWT); every
claim present and well typed (pydantic); ``exp`` at most ``max_lifetime_seconds`` after
``iat``; ``auth_time`` not after ``iat`` and not more than that lifetime before it.
Replay, the customer and the IVR platform's agreement are the service's to check
(``app.interactions.opening``), since they need the store and the IVR adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import jwt
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, ValidationError

from app.interactions.settings import HandoffSettings, LevelRule
from app.security.auth import AuthenticationError, KeyRing, check_algorithms
from kernel.access import VerificationLevel
from kernel.interactions import InteractionRefused

HANDOFF_TYPE = "ivr-handoff+jwt"

RefType = Literal["PHONE", "ACCOUNT", "EMAIL", "CUSTOMER_ID"]
AuthMethod = Literal["PIN", "OTP", "KBA", "VOICE_BIOMETRIC"]
AuthResult = Literal["AUTHENTICATED", "NOT_AUTHENTICATED", "INCONCLUSIVE"]

#: Longest identifiers accepted: bounds what a signed but odd token can make us store.
_MAX_ID = 200


class CustomerRef(BaseModel):
    """How the IVR identified the caller: a reference of one kind."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    type: RefType
    value: str = Field(min_length=1, max_length=_MAX_ID)


class HandoffClaims(BaseModel):
    """The claims of a handoff, every one required and strictly typed."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    iss: str
    iat: StrictInt
    exp: StrictInt
    jti: str = Field(min_length=1, max_length=_MAX_ID)
    contact_id: str = Field(min_length=1, max_length=_MAX_ID)
    ani: str = Field(min_length=1, max_length=64)
    customer_ref: CustomerRef
    auth_method: AuthMethod
    auth_result: AuthResult
    auth_score: StrictFloat | StrictInt | None = Field(ge=0, le=1)
    auth_time: StrictInt


@dataclass(frozen=True, slots=True)
class VerifiedHandoff:
    """A handoff whose signature and claims passed; what the service acts on."""

    claims: HandoffClaims
    level: VerificationLevel


def refused(code: str, message: str, status: int) -> InteractionRefused:
    """A refusal of a handoff, with its HTTP status (the GraphQL mutation shows the code)."""
    return InteractionRefused(code, message, status=status)


def verification_level(
    rules: tuple[LevelRule, ...], method: str, result: str, score: float | None
) -> VerificationLevel:
    """The level the table gives: the highest matching row; NONE unless AUTHENTICATED."""
    if result != "AUTHENTICATED":
        return VerificationLevel.NONE
    best = VerificationLevel.NONE
    for rule in rules:
        if rule.method != method:
            continue
        if rule.min_score is not None and (score is None or score < rule.min_score):
            continue
        best = max(best, VerificationLevel[rule.level])
    return best


class HandoffVerifier:
    """Checks a handoff's signature and claims against the IVR's keys and the settings."""

    def __init__(self, settings: HandoffSettings, keys: KeyRing) -> None:
        check_algorithms(settings.algorithms)
        self._settings = settings
        self._keys = keys

    @property
    def issuer(self) -> str:
        """The only ``iss`` a handoff may carry (the replay check is per issuer)."""
        return self._settings.issuer

    async def verify(self, token: str) -> VerifiedHandoff:
        """The handoff's claims and level; ``InteractionRefused`` naming the failed check."""
        header = self._header(token)
        try:
            key = await self._keys.key_for(header.get("kid"))
        except AuthenticationError as exc:
            if exc.__cause__ is not None:
                # The JWKS could not be fetched: our outage, not a bad handoff; retryable.
                raise refused(
                    "IVR_KEYS_UNAVAILABLE", "the IVR's signing keys are unavailable", 503
                ) from exc
            raise refused("HANDOFF_KEY_UNKNOWN", f"handoff key: {exc}", 401) from exc
        raw = self._decode(token, key)
        try:
            claims = HandoffClaims.model_validate(raw)
        except ValidationError as exc:
            fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
            raise refused(
                "HANDOFF_CLAIMS_INVALID",
                f"handoff claims missing or ill-typed: {', '.join(fields)}",
                400,
            ) from exc
        if claims.exp - claims.iat > self._settings.max_lifetime_seconds:
            raise refused(
                "HANDOFF_LIFETIME_TOO_LONG",
                f"handoff exp is more than {self._settings.max_lifetime_seconds} s after iat",
                400,
            )
        leeway = self._settings.leeway_seconds
        # The caller was verified for this call: not after the handoff was signed, and not
        # longer before it than a handoff may live (an old verification is not this call's).
        if not (
            claims.iat - self._settings.max_lifetime_seconds - leeway
            <= claims.auth_time
            <= claims.iat + leeway
        ):
            raise refused(
                "HANDOFF_AUTH_TIME_INVALID", "handoff auth_time is not close to its iat", 400
            )
        score = float(claims.auth_score) if claims.auth_score is not None else None
        level = verification_level(
            self._settings.level_rules, claims.auth_method, claims.auth_result, score
        )
        return VerifiedHandoff(claims=claims, level=level)

    def _header(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise refused("HANDOFF_MALFORMED", "handoff is not a compact JWS", 400) from exc
        if str(header.get("typ", "")).lower() != HANDOFF_TYPE:
            raise refused("HANDOFF_TYPE_REFUSED", f"handoff typ must be {HANDOFF_TYPE}", 401)
        if header.get("alg") not in self._settings.algorithms:
            raise refused("HANDOFF_ALGORITHM_REFUSED", "handoff algorithm not allowed", 401)
        return header

    def _decode(self, token: str, key: Any) -> dict[str, Any]:
        settings = self._settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=list(settings.algorithms),
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["iss", "aud", "iat", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise refused("HANDOFF_EXPIRED", "handoff expired", 401) from exc
        except jwt.InvalidIssuerError as exc:
            raise refused("HANDOFF_ISSUER_REFUSED", "handoff issuer not accepted", 401) from exc
        except jwt.InvalidAudienceError as exc:
            raise refused("HANDOFF_AUDIENCE_REFUSED", "handoff audience not accepted", 401) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise refused(
                "HANDOFF_CLAIMS_INVALID", f"handoff claim missing: {exc.claim}", 400
            ) from exc
        except jwt.ImmatureSignatureError as exc:
            raise refused("HANDOFF_NOT_YET_VALID", "handoff issued in the future", 401) from exc
        except jwt.InvalidSignatureError as exc:
            raise refused("HANDOFF_SIGNATURE_INVALID", "handoff signature invalid", 401) from exc
        except jwt.PyJWTError as exc:
            raise refused("HANDOFF_INVALID", "handoff could not be verified", 401) from exc
        return claims
