"""Demo mode's own token issuer: its keys under the data dir, and tokens minted with them.

The keys are a ``KeyDirectory`` (``demo-signing-key.pem``, then ``demo-signing-key.<n>.pem``
for each ``scv keys rotate``): the newest signs, and the gateway verifies with every key
still there, by ``kid`` (it reads them as a JWKS, again whenever they change). Beside them,
``demo-signing-key.pub.pem`` holds every one of their public keys, for a gateway configured
with ``SCV_AUTH__PUBLIC_KEY_FILE`` instead (the benchmark's).

Production points ``auth`` at the real identity provider's JWKS or PEM keys instead; nothing
here runs unless the demo (or ``scv token``) asks for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from app.security.key_files import KeyDirectory, KeySet, SigningKey
from app.security.settings import AuthSettings

KEY_STEM = "demo-signing-key"
PRIVATE_KEY_FILE = f"{KEY_STEM}.pem"
PUBLIC_KEY_FILE = f"{KEY_STEM}.pub.pem"
ALGORITHM = "RS256"


@dataclass(frozen=True, slots=True)
class DemoKeys:
    """The key the demo issuer signs with now."""

    #: Never in a repr: it signs every demo token.
    private_pem: str = field(repr=False)
    public_pem: str
    kid: str


def demo_key_directory(data_dir: Path) -> KeyDirectory:
    """The demo issuer's keys under ``data_dir``."""
    return KeyDirectory(
        data_dir, KEY_STEM, lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )


def demo_key_set(data_dir: Path) -> KeySet:
    """The demo issuer's keys, re-read when they change (what the gateway verifies with)."""
    return demo_key_directory(data_dir).key_set()


def ensure_demo_keys(data_dir: Path) -> DemoKeys:
    """The key the demo issuer signs with now, the first one generated on first use."""
    directory = demo_key_directory(data_dir)
    directory.ensure()
    keys = directory.key_set().keys()
    _write_public_keys(data_dir, keys)
    return _demo_keys(keys[-1])


def rotate_demo_keys(data_dir: Path, keep: int = 2) -> tuple[DemoKeys, list[Path]]:
    """A new signing key for the demo issuer (the previous ``keep - 1`` still verify): the
    new key, and the key files removed."""
    directory = demo_key_directory(data_dir)
    directory.ensure()
    retired = directory.rotate(keep)
    keys = directory.key_set().keys()
    _write_public_keys(data_dir, keys)
    return _demo_keys(keys[-1]), retired


def roll_back_demo_keys(data_dir: Path) -> Path:
    """Remove the newest key, so the previous one signs again; the file removed."""
    removed = demo_key_directory(data_dir).rollback()
    _write_public_keys(data_dir, demo_key_directory(data_dir).key_set().keys())
    return removed


def _demo_keys(key: SigningKey) -> DemoKeys:
    return DemoKeys(
        private_pem=key.private_pem().decode(), public_pem=key.public_pem().decode(), kid=key.kid
    )


def _write_public_keys(data_dir: Path, keys: list[SigningKey]) -> None:
    text = b"".join(key.public_pem() for key in keys)
    path = data_dir / PUBLIC_KEY_FILE
    if not path.exists() or path.read_bytes() != text:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(text)
        partial.replace(path)


def mint_token(
    keys: DemoKeys,
    auth: AuthSettings,
    *,
    subject: str,
    role: str,
    ttl_seconds: int = 3600,
    tenants: Sequence[str] = (),
) -> str:
    """A bearer token for ``subject`` in ``role``, valid for ``ttl_seconds``, acting for
    ``tenants`` (no tenants claim when empty: the single tenant of a single-client gateway)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": auth.issuer,
        "aud": auth.audience,
        "sub": subject,
        auth.role_claim: role,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if tenants:
        claims[auth.tenants_claim] = list(tenants)
    return jwt.encode(
        claims, keys.private_pem, algorithm=ALGORITHM, headers={"typ": "at+jwt", "kid": keys.kid}
    )
