"""Bearer tokens: each way a token can be wrong is refused with a clear reason."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.security.auth import (
    VERIFIED_FOR_SECONDS,
    AuthenticationError,
    KeyRing,
    TokenVerifier,
    bearer_token,
)
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from tests.fakes import ManualClock

AUTH = AuthSettings()


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> DemoKeys:
    return ensure_demo_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def verifier(keys: DemoKeys) -> TokenVerifier:
    return TokenVerifier(AUTH, KeyRing(static_key=keys.public_pem))


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": AUTH.issuer,
        "aud": AUTH.audience,
        "sub": "agent-1",
        "role": "agent",
        "iat": now,
        "exp": now + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def sign(keys: DemoKeys, body: dict[str, Any], *, typ: str = "at+jwt") -> str:
    return jwt.encode(body, keys.private_pem, algorithm="RS256", headers={"typ": typ})


async def test_a_minted_demo_token_names_its_subject_and_role(
    keys: DemoKeys, verifier: TokenVerifier
) -> None:
    token = mint_token(keys, AUTH, subject="agent-7", role="supervisor")
    principal = await verifier.verify(token)
    assert (principal.subject, principal.role) == ("agent-7", "supervisor")


async def test_demo_keys_are_generated_once_and_reused(tmp_path: Path) -> None:
    first = ensure_demo_keys(tmp_path)
    assert ensure_demo_keys(tmp_path) == first
    assert (tmp_path / "demo-signing-key.pem").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (claims(exp=int(time.time()) - 3600), "token expired"),
        (claims(iss="someone-else"), "invalid token"),
        (claims(aud="another-api"), "invalid token"),
        (claims(sub=None), "invalid token"),
        (claims(exp=None), "invalid token"),
        (claims(role="root"), "token carries no known role"),
        (claims(role=None), "token carries no known role"),
        (claims(role=["agent"]), "token carries no known role"),
        (claims(role={"name": "agent"}), "token carries no known role"),
        (claims(nbf=int(time.time()) + 3600), "invalid token"),
    ],
    ids=[
        "expired",
        "issuer",
        "audience",
        "no-sub",
        "no-exp",
        "unknown-role",
        "no-role",
        "role-list",
        "role-object",
        "nbf",
    ],
)
async def test_a_token_with_bad_claims_is_refused(
    keys: DemoKeys, verifier: TokenVerifier, body: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AuthenticationError, match=reason):
        await verifier.verify(sign(keys, body))


async def test_a_token_signed_by_another_key_is_refused(verifier: TokenVerifier) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    token = jwt.encode(claims(), pem, algorithm="RS256", headers={"typ": "at+jwt"})
    with pytest.raises(AuthenticationError, match="invalid token"):
        await verifier.verify(token)


def _unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(body)}."


async def test_alg_none_is_refused(verifier: TokenVerifier) -> None:
    token = _unsigned({"alg": "none", "typ": "at+jwt"}, claims())
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        await verifier.verify(token)


async def test_hmac_signed_with_the_public_key_is_refused(
    keys: DemoKeys, verifier: TokenVerifier
) -> None:
    # The classic RS/HS confusion: the attacker signs with the public key as an HMAC secret.
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "at+jwt"}
    signing_input = _unsigned(header, claims())[:-1]
    mac = hmac.new(keys.public_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        await verifier.verify(token)


@pytest.mark.parametrize("typ", ["ivr-handoff+jwt", "interaction+jwt"])
async def test_a_token_of_another_type_cannot_stand_in_for_an_access_token(
    keys: DemoKeys, verifier: TokenVerifier, typ: str
) -> None:
    with pytest.raises(AuthenticationError, match="not an access token"):
        await verifier.verify(sign(keys, claims(), typ=typ))


async def test_garbage_is_a_malformed_token(verifier: TokenVerifier) -> None:
    with pytest.raises(AuthenticationError, match="malformed token"):
        await verifier.verify("not-a-jwt")


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Bearer"])
def test_an_authorization_header_without_a_bearer_token_is_refused(header: str | None) -> None:
    with pytest.raises(AuthenticationError):
        bearer_token(header)


def test_hmac_and_none_cannot_be_configured() -> None:
    for algorithms in (("HS256",), ("none",), ("RS256", "HS512")):
        with pytest.raises(ValueError, match="not allowed"):
            TokenVerifier(AuthSettings(algorithms=algorithms), KeyRing(static_key="x"))


async def test_jwks_is_refetched_for_an_unknown_kid_at_most_once_per_interval(
    keys: DemoKeys,
) -> None:
    public = serialization.load_pem_public_key(keys.public_pem.encode())
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))  # type: ignore[arg-type]
    jwk.update({"kid": keys.kid, "alg": "RS256", "use": "sig"})
    fetches = 0

    async def fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        return {"keys": [jwk]}

    verifier = TokenVerifier(AUTH, KeyRing(fetch_jwks=fetch, refetch_interval=3600))
    token = mint_token(keys, AUTH, subject="agent-1", role="agent")
    assert (await verifier.verify(token)).subject == "agent-1"
    assert (await verifier.verify(token)).subject == "agent-1"
    forged_kid = jwt.encode(
        claims(), keys.private_pem, algorithm="RS256", headers={"typ": "at+jwt", "kid": "made-up"}
    )
    for _ in range(3):
        with pytest.raises(AuthenticationError, match="unknown key"):
            await verifier.verify(forged_kid)
    assert fetches == 1


async def test_scopes_come_from_the_oauth_scope_claim(
    keys: DemoKeys, verifier: TokenVerifier
) -> None:
    principal = await verifier.verify(sign(keys, claims(scope="customers:read audit:read")))
    assert principal.scopes == frozenset({"customers:read", "audit:read"})


class CountingKeyRing(KeyRing):
    """A static key ring that counts signature checks (each asks it for the key)."""

    def __init__(self, static_key: str) -> None:
        super().__init__(static_key=static_key)
        self.lookups = 0

    async def key_for(self, kid: str | None) -> Any:
        self.lookups += 1
        return await super().key_for(kid)


async def test_a_verified_token_is_not_checked_again_for_a_while(keys: DemoKeys) -> None:
    ring, clock = CountingKeyRing(keys.public_pem), ManualClock(time.time())
    verifier = TokenVerifier(AUTH, ring, clock=clock)
    token = sign(keys, claims())
    await verifier.verify(token)
    await verifier.verify(token)
    assert ring.lookups == 1
    clock.now += VERIFIED_FOR_SECONDS + 1
    await verifier.verify(token)
    assert ring.lookups == 2


async def test_a_remembered_token_is_checked_again_once_it_expires(keys: DemoKeys) -> None:
    ring, clock = CountingKeyRing(keys.public_pem), ManualClock(time.time())
    verifier = TokenVerifier(AUTH, ring, clock=clock)
    token = sign(keys, claims(exp=int(clock.now) + 5))
    await verifier.verify(token)
    clock.now += 6
    await verifier.verify(token)
    assert ring.lookups == 2


async def test_a_refused_token_is_never_remembered(keys: DemoKeys) -> None:
    ring = CountingKeyRing(keys.public_pem)
    verifier = TokenVerifier(AUTH, ring)
    token = sign(keys, claims(aud="someone-else"))
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            await verifier.verify(token)
    assert ring.lookups == 2


async def test_tokens_arriving_while_the_jwks_is_fetched_wait_for_it(keys: DemoKeys) -> None:
    public = serialization.load_pem_public_key(keys.public_pem.encode())
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))  # type: ignore[arg-type]
    jwk.update({"kid": keys.kid, "alg": "RS256", "use": "sig"})
    released = asyncio.Event()
    fetches = 0

    async def slow_fetch() -> dict[str, Any]:
        nonlocal fetches
        fetches += 1
        await released.wait()
        return {"keys": [jwk]}

    ring = KeyRing(fetch_jwks=slow_fetch, refetch_interval=3600)
    verifier = TokenVerifier(AUTH, ring)
    tokens = [mint_token(keys, AUTH, subject=f"agent-{n}", role="agent") for n in range(3)]
    checks = [asyncio.ensure_future(verifier.verify(token)) for token in tokens]
    await asyncio.sleep(0)
    released.set()
    principals = await asyncio.gather(*checks)
    assert [p.subject for p in principals] == ["agent-0", "agent-1", "agent-2"]
    assert fetches == 1
