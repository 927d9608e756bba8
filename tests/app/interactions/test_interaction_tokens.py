"""Interaction tokens: minted for one agent and interaction; a bearer token or a handoff can
never pass for one, nor one for a bearer token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.interactions.settings import InteractionSettings
from app.interactions.tokens import (
    DEMO_KEY_FILE,
    InteractionClaims,
    InteractionTokenError,
    InteractionTokens,
    load_signing_key,
)
from app.security.auth import AuthenticationError, KeyRing, TokenVerifier
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from kernel.access import VerificationLevel
from kernel.identity import CustomerId
from tests.app.handoff_kit import IvrKey, handoff_claims

SETTINGS = InteractionSettings()
CLAIMS = InteractionClaims(
    interaction_id="i-1",
    contact_id="c-1",
    customer_id=CustomerId("cust-ada"),
    agent="agent-1",
    level=VerificationLevel.MEDIUM,
)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def tokens(key: ec.EllipticCurvePrivateKey) -> InteractionTokens:
    return InteractionTokens(key, SETTINGS)


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    return ensure_demo_keys(tmp_path_factory.mktemp("demo"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def refused(tokens: InteractionTokens, token: str) -> str:
    with pytest.raises(InteractionTokenError) as caught:
        tokens.verify(token)
    return str(caught.value)


def test_minted_token_carries_customer_agent_interaction_and_level(
    tokens: InteractionTokens,
) -> None:
    token = tokens.mint(CLAIMS)

    assert jwt.get_unverified_header(token)["typ"] == "interaction+jwt"
    payload = jwt.decode(token, options={"verify_signature": False})
    assert (payload["sub"], payload["act"], payload["interaction"], payload["level"]) == (
        "cust-ada",
        {"sub": "agent-1"},
        "i-1",
        "MEDIUM",
    )
    # Verified, the claims say when the token expires too (a subscription ends then).
    assert tokens.verify(token) == replace(CLAIMS, expires_at=float(payload["exp"]))


def test_token_lifetime_comes_from_settings(key: ec.EllipticCurvePrivateKey) -> None:
    short = InteractionTokens(key, InteractionSettings(token_ttl_seconds=60))

    payload = jwt.decode(short.mint(CLAIMS), options={"verify_signature": False})
    assert payload["exp"] - payload["iat"] == 60


def test_expired_token_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    past = InteractionTokens(key, SETTINGS, clock=lambda: time.time() - 3600)

    assert "expired" in refused(InteractionTokens(key, SETTINGS), past.mint(CLAIMS))


def test_token_of_another_key_is_refused(tokens: InteractionTokens) -> None:
    other = InteractionTokens(ec.generate_private_key(ec.SECP256R1()), SETTINGS)

    assert refused(tokens, other.mint(CLAIMS)) == "invalid interaction token"


def test_bearer_token_used_as_interaction_token_is_refused(
    tokens: InteractionTokens, demo_keys: DemoKeys
) -> None:
    bearer = mint_token(demo_keys, AuthSettings(), subject="agent-1", role="agent")

    assert refused(tokens, bearer) == "not an interaction token"


def test_handoff_used_as_interaction_token_is_refused(tokens: InteractionTokens) -> None:
    handoff = IvrKey().sign(handoff_claims())

    assert refused(tokens, handoff) == "not an interaction token"


def test_alg_none_is_refused(tokens: InteractionTokens) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "interaction+jwt"}).encode())
    payload = jwt.decode(tokens.mint(CLAIMS), options={"verify_signature": False})
    token = f"{header}.{_b64(json.dumps(payload).encode())}."

    assert "algorithm" in refused(tokens, token)


def test_hs256_signed_with_the_public_key_is_refused(
    tokens: InteractionTokens, key: ec.EllipticCurvePrivateKey
) -> None:
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "interaction+jwt"}).encode())
    payload = jwt.decode(tokens.mint(CLAIMS), options={"verify_signature": False})
    body = f"{header}.{_b64(json.dumps(payload).encode())}"
    mac = hmac.new(public_pem, body.encode(), hashlib.sha256).digest()

    assert "algorithm" in refused(tokens, f"{body}.{_b64(mac)}")


def _bearer_verifier(demo_keys: DemoKeys) -> TokenVerifier:
    return TokenVerifier(AuthSettings(), KeyRing(static_key=demo_keys.public_pem))


async def test_interaction_token_used_as_bearer_is_refused(
    tokens: InteractionTokens, demo_keys: DemoKeys
) -> None:
    with pytest.raises(AuthenticationError, match="not an access token"):
        await _bearer_verifier(demo_keys).verify(tokens.mint(CLAIMS))


async def test_handoff_used_as_bearer_is_refused(demo_keys: DemoKeys) -> None:
    handoff = IvrKey().sign(handoff_claims())

    with pytest.raises(AuthenticationError, match="not an access token"):
        await _bearer_verifier(demo_keys).verify(handoff)


def test_demo_mode_generates_a_key_once(tmp_path: Path) -> None:
    first = load_signing_key(SETTINGS, demo=True, data_dir=tmp_path)
    second = load_signing_key(SETTINGS, demo=True, data_dir=tmp_path)

    assert (tmp_path / DEMO_KEY_FILE).stat().st_mode & 0o077 == 0
    assert first.private_numbers() == second.private_numbers()


def test_outside_demo_mode_a_key_file_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SCV_INTERACTIONS__SIGNING_KEY_FILE"):
        load_signing_key(SETTINGS, demo=False, data_dir=tmp_path)


def test_a_key_that_is_not_p256_is_refused(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings: Any = InteractionSettings(signing_key_file=path)

    with pytest.raises(ValueError, match="P-256"):
        load_signing_key(settings, demo=False, data_dir=tmp_path)
