"""Interaction tokens: the gateway's own short-lived JWTs that let one agent act within one
claimed interaction (sent as ``X-Interaction-Token`` beside the agent's bearer token).

Signed with the gateway's EC P-256 key (ES256 only), ``typ`` ``interaction+jwt``, with an
``iss``/``aud`` pair of their own: a bearer token (other ``typ``, issuer and key) or an IVR
handoff can never pass for one, nor one for them. Claims: ``sub`` the customer, ``act.sub``
the agent (RFC 8693 actor), ``interaction`` the interaction id, ``contact_id``, ``level``.
Whether the interaction is still open and held by that agent is the service's to check on
every request; the token alone only proves what was true when it was minted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from app.interactions.settings import InteractionSettings
from kernel.access import VerificationLevel
from kernel.identity import CustomerId

INTERACTION_TOKEN_TYPE = "interaction+jwt"
ALGORITHM = "ES256"
#: Where demo mode keeps the generated key (beside the demo's bearer-token key).
DEMO_KEY_FILE = "interaction-signing-key.pem"


class InteractionTokenError(Exception):
    """The interaction token is unusable; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class InteractionClaims:
    """What a valid interaction token says."""

    interaction_id: str
    contact_id: str
    customer_id: CustomerId
    agent: str
    level: VerificationLevel
    #: The token's ``exp`` (epoch seconds); None for claims about to be minted.
    expires_at: float | None = None


class _Actor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    sub: str = Field(min_length=1)


class _Claims(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    sub: str = Field(min_length=1)
    act: _Actor
    interaction: str = Field(min_length=1)
    contact_id: str = Field(min_length=1)
    level: str
    exp: StrictInt


def load_signing_key(
    settings: InteractionSettings, *, demo: bool, data_dir: Path
) -> ec.EllipticCurvePrivateKey:
    """The configured key file; in demo mode with none set, one generated under ``data_dir``."""
    path = settings.signing_key_file
    if path is None:
        if not demo:
            raise ValueError(
                "no interaction signing key: set SCV_INTERACTIONS__SIGNING_KEY_FILE to a PEM "
                "EC P-256 private key (or run in demo mode)"
            )
        path = data_dir / DEMO_KEY_FILE
        if not path.exists():
            _write_new_key(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} is not a PEM EC P-256 private key")
    return key


def _write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Owner-only before the key is written: it signs every grant.
    path.touch(mode=0o600)
    path.write_bytes(pem)


class InteractionTokens:
    """Mints and checks interaction tokens with one key."""

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        settings: InteractionSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._public = key.public_key()
        self._settings = settings
        self._clock = clock

    def mint(self, claims: InteractionClaims) -> str:
        """A token for ``claims.agent`` within ``claims.interaction_id``."""
        now = int(self._clock())
        payload = {
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "sub": claims.customer_id,
            "act": {"sub": claims.agent},
            "interaction": claims.interaction_id,
            "contact_id": claims.contact_id,
            "level": claims.level.name,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.token_ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(
            payload, self._key, algorithm=ALGORITHM, headers={"typ": INTERACTION_TOKEN_TYPE}
        )

    def verify(self, token: str) -> InteractionClaims:
        """The claims of a valid token; ``InteractionTokenError`` for anything else."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InteractionTokenError("malformed interaction token") from exc
        if str(header.get("typ", "")).lower() != INTERACTION_TOKEN_TYPE:
            raise InteractionTokenError("not an interaction token")
        if header.get("alg") != ALGORITHM:
            raise InteractionTokenError("interaction token algorithm not allowed")
        try:
            raw = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=self._settings.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InteractionTokenError("interaction token expired") from exc
        except jwt.PyJWTError as exc:
            raise InteractionTokenError("invalid interaction token") from exc
        try:
            claims = _Claims.model_validate(raw)
            level = VerificationLevel[claims.level]
        except (ValidationError, KeyError) as exc:
            raise InteractionTokenError("interaction token claims are ill-formed") from exc
        return InteractionClaims(
            interaction_id=claims.interaction,
            contact_id=claims.contact_id,
            customer_id=CustomerId(claims.sub),
            agent=claims.act.sub,
            level=level,
            expires_at=float(claims.exp),
        )
