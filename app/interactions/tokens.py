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
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from app.interactions.settings import InteractionSettings
from app.security.key_files import FixedKeys, KeyDirectory, KeySet, SigningKey, SigningKeys, key_id
from kernel.access import VerificationLevel
from kernel.identity import CustomerId

INTERACTION_TOKEN_TYPE = "interaction+jwt"
ALGORITHM = "ES256"
#: Where demo mode keeps the generated keys (beside the demo's bearer-token keys): this
#: file first, then ``interaction-signing-key.<n>.pem`` for each rotation.
DEMO_KEY_STEM = "interaction-signing-key"
DEMO_KEY_FILE = f"{DEMO_KEY_STEM}.pem"


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


def interaction_keys(settings: InteractionSettings, *, demo: bool, data_dir: Path) -> SigningKeys:
    """The keys of interaction tokens: ``signing_key_file`` signs, it and
    ``previous_signing_key_files`` verify; in demo mode with none set, the keys generated
    under ``data_dir`` (``scv keys rotate`` adds one). Re-read when their files change."""
    path = settings.signing_key_file
    if path is None:
        if not demo:
            raise ValueError(
                "no interaction signing key: set SCV_INTERACTIONS__SIGNING_KEY_FILE to a PEM "
                "EC P-256 private key (or run in demo mode)"
            )
        directory = demo_key_directory(data_dir)
        directory.ensure()
        keys = directory.key_set(check=_p256)
    else:
        configured = (*settings.previous_signing_key_files, path)
        keys = KeySet(lambda: configured, check=_p256)
    keys.current()  # a file that is no P-256 key stops the start, not the first claim
    return keys


def demo_key_directory(data_dir: Path) -> KeyDirectory:
    """Where demo mode keeps the interaction-token keys (beside the demo's bearer keys)."""
    return KeyDirectory(data_dir, DEMO_KEY_STEM, lambda: ec.generate_private_key(ec.SECP256R1()))


def load_signing_key(
    settings: InteractionSettings, *, demo: bool, data_dir: Path
) -> ec.EllipticCurvePrivateKey:
    """The key that signs interaction tokens now (``interaction_keys``' newest)."""
    key = interaction_keys(settings, demo=demo, data_dir=data_dir).current().private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # _p256 checked it
    return key


def _p256(key: SigningKey) -> None:
    private = key.private_key
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise ValueError("an interaction signing key is not a PEM EC P-256 private key")


class InteractionTokens:
    """Mints interaction tokens with the newest key (its ``kid`` in the header), and checks
    them with whichever key of the set signed them: after a rotation the previous key's
    tokens verify until they expire (the key stays in the set that long)."""

    def __init__(
        self,
        keys: ec.EllipticCurvePrivateKey | SigningKeys,
        settings: InteractionSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(keys, ec.EllipticCurvePrivateKey):
            keys = FixedKeys([SigningKey(kid=key_id(keys.public_key()), private_key=keys)])
        self._keys = keys
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
        key = self._keys.current()
        return jwt.encode(
            payload,
            key.private_key,
            algorithm=ALGORITHM,
            headers={"typ": INTERACTION_TOKEN_TYPE, "kid": key.kid},
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
        kid = header.get("kid")
        # Tokens minted before keys had ids carry none: the current key may have signed them.
        key = self._keys.find(kid) if kid is not None else self._keys.current()
        if key is None:
            raise InteractionTokenError("invalid interaction token")
        try:
            raw = jwt.decode(
                token,
                key.public_key,
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
