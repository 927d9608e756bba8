"""Demo mode's own token issuer: a key pair under the data dir, and tokens minted with it.

Production points ``auth`` at the real identity provider's PEM key or JWKS instead; nothing
here runs unless the demo (or ``scv token``) asks for it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.security.settings import AuthSettings

PRIVATE_KEY_FILE = "demo-signing-key.pem"
PUBLIC_KEY_FILE = "demo-signing-key.pub.pem"
DEMO_KEY_ID = "scv-demo-1"


@dataclass(frozen=True, slots=True)
class DemoKeys:
    private_pem: str
    public_pem: str


def ensure_demo_keys(data_dir: Path) -> DemoKeys:
    """The demo key pair, generated on first use and reused afterwards."""
    private_path = data_dir / PRIVATE_KEY_FILE
    public_path = data_dir / PUBLIC_KEY_FILE
    if not private_path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        # Written private-first and owner-only: the private key signs every demo token.
        private_path.touch(mode=0o600)
        private_path.write_bytes(private_pem)
        public_path.write_bytes(public_pem)
    return DemoKeys(private_pem=private_path.read_text(), public_pem=public_path.read_text())


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
        claims,
        keys.private_pem,
        algorithm="RS256",
        headers={"typ": "at+jwt", "kid": DEMO_KEY_ID},
    )
