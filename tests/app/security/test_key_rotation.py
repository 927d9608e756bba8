"""Keys rotate without a restart: the newest signs, the previous verifies until removed, and
a verifier built before the rotation takes the new key up (``app.security.key_files``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.cli.commands import main
from app.interactions.settings import InteractionSettings
from app.interactions.tokens import (
    InteractionClaims,
    InteractionTokenError,
    InteractionTokens,
    demo_key_directory,
    interaction_keys,
)
from app.security.auth import AuthenticationError, KeyRing, TokenVerifier
from app.security.demo_keys import (
    PUBLIC_KEY_FILE,
    demo_key_set,
    ensure_demo_keys,
    mint_token,
    roll_back_demo_keys,
    rotate_demo_keys,
)
from app.security.key_files import JwksFile, key_id, public_jwk
from app.security.settings import AuthSettings
from app.wiring.services import local_jwks
from kernel.access import VerificationLevel
from kernel.identity import CustomerId

AUTH = AuthSettings()
CLAIMS = InteractionClaims(
    interaction_id="i-1",
    contact_id="c-1",
    customer_id=CustomerId("cust-ada"),
    agent="agent-1",
    level=VerificationLevel.MEDIUM,
)


def demo_verifier(data_dir: Path) -> TokenVerifier:
    """The gateway's verifier in demo mode: the directory's keys as a JWKS."""
    keys = demo_key_set(data_dir)
    ring = KeyRing(fetch_jwks=local_jwks(lambda: keys.jwks("RS256")), refetch_interval=0)
    return TokenVerifier(AUTH, ring)


async def test_a_rotated_bearer_key_signs_and_both_verify_without_a_restart(
    tmp_path: Path,
) -> None:
    first = ensure_demo_keys(tmp_path)
    verifier = demo_verifier(tmp_path)
    before = mint_token(first, AUTH, subject="agent-1", role="agent")
    assert (await verifier.verify(before)).subject == "agent-1"

    second, retired = rotate_demo_keys(tmp_path)
    assert retired == []
    assert second.kid != first.kid
    assert ensure_demo_keys(tmp_path) == second  # the issuer signs with the newest
    after = mint_token(second, AUTH, subject="agent-2", role="agent")
    assert jwt.get_unverified_header(after)["kid"] == second.kid
    assert (await verifier.verify(after)).subject == "agent-2"
    assert (await demo_verifier(tmp_path).verify(before)).subject == "agent-1"


async def test_a_key_two_rotations_old_is_removed_and_its_tokens_refused(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path)
    old = mint_token(first, AUTH, subject="agent-1", role="agent")
    rotate_demo_keys(tmp_path)
    _, retired = rotate_demo_keys(tmp_path)
    assert [path.name for path in retired] == ["demo-signing-key.pem"]
    with pytest.raises(AuthenticationError, match="unknown key"):
        await demo_verifier(tmp_path).verify(old)


async def test_a_rollback_makes_the_previous_key_sign_again(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path)
    rotate_demo_keys(tmp_path)
    assert roll_back_demo_keys(tmp_path).name == "demo-signing-key.1.pem"
    assert ensure_demo_keys(tmp_path) == first
    with pytest.raises(ValueError, match="nothing to roll back"):
        roll_back_demo_keys(tmp_path)


async def test_several_pem_keys_are_told_apart_by_kid(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path)
    second, _ = rotate_demo_keys(tmp_path)
    # The public file holds both keys, as a gateway given SCV_AUTH__PUBLIC_KEY_FILE reads it.
    verifier = TokenVerifier(AUTH, KeyRing(static_key=(tmp_path / PUBLIC_KEY_FILE).read_text()))
    for keys in (first, second):
        token = mint_token(keys, AUTH, subject=keys.kid, role="agent")
        assert (await verifier.verify(token)).subject == keys.kid
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {"sub": "x"}, stranger, algorithm="RS256", headers={"typ": "at+jwt", "kid": "made-up"}
    )
    with pytest.raises(AuthenticationError, match="unknown key"):
        await verifier.verify(forged)


async def test_a_jwks_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path / "issuer")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(demo_key_set(tmp_path / "issuer").jwks("RS256")))
    verifier = TokenVerifier(
        AUTH, KeyRing(fetch_jwks=local_jwks(JwksFile(path).document), refetch_interval=0)
    )
    assert await verifier.verify(mint_token(first, AUTH, subject="a", role="agent"))
    second, _ = rotate_demo_keys(tmp_path / "issuer")
    path.write_text(json.dumps(demo_key_set(tmp_path / "issuer").jwks("RS256")))
    assert await verifier.verify(mint_token(second, AUTH, subject="b", role="agent"))


def test_the_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 7638 section 3.1's example key and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJ"
        "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
        "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    jwk = {"kty": "RSA", "n": n, "e": "AQAB"}
    public = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    assert isinstance(public, rsa.RSAPublicKey)
    assert key_id(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert public_jwk(public)["n"] == n


def test_interaction_tokens_of_the_previous_key_verify_after_a_rotation(tmp_path: Path) -> None:
    settings = InteractionSettings()
    tokens = InteractionTokens(interaction_keys(settings, demo=True, data_dir=tmp_path), settings)
    # Another process, started before the rotation.
    elsewhere = InteractionTokens(
        interaction_keys(settings, demo=True, data_dir=tmp_path), settings
    )
    before = tokens.mint(CLAIMS)
    demo_key_directory(tmp_path).rotate()
    after = tokens.mint(CLAIMS)
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    for verifier in (tokens, elsewhere):
        assert verifier.verify(before).agent == "agent-1"
        assert verifier.verify(after).agent == "agent-1"


def test_configured_interaction_keys_sign_with_the_current_and_verify_the_previous(
    tmp_path: Path,
) -> None:
    old, new = tmp_path / "old.pem", tmp_path / "new.pem"
    for path in (old, new):
        path.write_bytes(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    before = InteractionTokens(
        interaction_keys(InteractionSettings(signing_key_file=old), demo=False, data_dir=tmp_path),
        InteractionSettings(),
    ).mint(CLAIMS)
    rotated = InteractionSettings(signing_key_file=new, previous_signing_key_files=(old,))
    tokens = InteractionTokens(interaction_keys(rotated, demo=False, data_dir=tmp_path), rotated)
    assert tokens.verify(before).interaction_id == "i-1"
    assert tokens.verify(tokens.mint(CLAIMS)).interaction_id == "i-1"
    retired = InteractionSettings(signing_key_file=new)
    without_old = InteractionTokens(
        interaction_keys(retired, demo=False, data_dir=tmp_path), retired
    )
    with pytest.raises(InteractionTokenError, match="invalid interaction token"):
        without_old.verify(before)


def test_scv_keys_rotate_and_rollback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCV_DATA_DIR", str(tmp_path))
    first = ensure_demo_keys(tmp_path)
    main(["keys", "rotate"])
    out = capsys.readouterr().out
    now = ensure_demo_keys(tmp_path)
    assert f"bearer: now signing with kid {now.kid}" in out
    assert "interaction: now signing with kid" in out
    main(["keys", "rollback", "--kind", "bearer"])
    assert "bearer: removed demo-signing-key.1.pem" in capsys.readouterr().out
    assert ensure_demo_keys(tmp_path) == first


async def test_a_key_published_before_it_signs_is_learned_despite_the_refetch_limit(
    tmp_path: Path,
) -> None:
    first = ensure_demo_keys(tmp_path)
    published: dict[str, Any] = demo_key_set(tmp_path).jwks("RS256")
    failing = False

    async def fetch() -> dict[str, Any]:
        if failing:
            raise ConnectionError("issuer down")
        return published

    # Made-up kids may ask for a refetch once an hour; the keys are refreshed when stale.
    learning = TokenVerifier(AUTH, KeyRing(fetch_jwks=fetch, refetch_interval=3600, max_age=0))
    limited = TokenVerifier(AUTH, KeyRing(fetch_jwks=fetch, refetch_interval=3600))
    for verifier in (learning, limited):
        assert await verifier.verify(mint_token(first, AUTH, subject="a", role="agent"))
    second, _ = rotate_demo_keys(tmp_path)
    published = demo_key_set(tmp_path).jwks("RS256")  # the issuer publishes the next key
    token = mint_token(second, AUTH, subject="b", role="agent")
    assert (await learning.verify(token)).subject == "b"
    with pytest.raises(AuthenticationError, match="unknown key"):
        await limited.verify(token)
    # The issuer down at a refresh: the keys held still verify.
    failing = True
    assert await learning.verify(mint_token(first, AUTH, subject="c", role="agent"))
