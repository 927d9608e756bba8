"""IVR handoffs: every way a handoff can be forged or wrong is refused, naming the check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from app.interactions.handoff import HandoffVerifier, verification_level
from app.interactions.settings import LevelRule
from app.security.auth import KeyRing
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from kernel.access import VerificationLevel
from kernel.interactions import InteractionRefused
from tests.app.handoff_kit import HANDOFF, IvrKey, handoff_claims


@pytest.fixture
def key() -> IvrKey:
    return IvrKey()


@pytest.fixture
def verifier(key: IvrKey) -> HandoffVerifier:
    return HandoffVerifier(HANDOFF, key.key_ring())


async def refusal(verifier: HandoffVerifier, token: str) -> InteractionRefused:
    with pytest.raises(InteractionRefused) as caught:
        await verifier.verify(token)
    return caught.value


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_handoff_gives_its_claims_and_level(
    verifier: HandoffVerifier, key: IvrKey
) -> None:
    verified = await verifier.verify(key.sign(handoff_claims("c-1")))

    assert verified.claims.contact_id == "c-1"
    assert verified.claims.customer_ref.type == "PHONE"
    assert verified.level is VerificationLevel.MEDIUM


async def test_alg_none_is_refused(verifier: HandoffVerifier) -> None:
    token = _b64({"alg": "none", "typ": "ivr-handoff+jwt", "kid": "test-ivr-1"}) + "."
    token += _b64(handoff_claims()) + "."

    assert (await refusal(verifier, token)).code == "HANDOFF_ALGORITHM_REFUSED"


async def test_hs256_signed_with_the_public_key_is_refused(
    verifier: HandoffVerifier, key: IvrKey
) -> None:
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64({"alg": "HS256", "typ": "ivr-handoff+jwt", "kid": key.kid})
    payload = _b64(handoff_claims())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    error = await refusal(verifier, token)
    assert error.code == "HANDOFF_ALGORITHM_REFUSED"
    assert error.status == 401


async def test_wrong_typ_is_refused(verifier: HandoffVerifier, key: IvrKey) -> None:
    token = key.sign(handoff_claims(), headers={"typ": "JWT"})

    assert (await refusal(verifier, token)).code == "HANDOFF_TYPE_REFUSED"


async def test_wrong_issuer_is_refused(verifier: HandoffVerifier, key: IvrKey) -> None:
    token = key.sign(handoff_claims(iss="someone-else"))

    assert (await refusal(verifier, token)).code == "HANDOFF_ISSUER_REFUSED"


async def test_wrong_audience_is_refused(verifier: HandoffVerifier, key: IvrKey) -> None:
    token = key.sign(handoff_claims(aud="scv-gateway"))

    assert (await refusal(verifier, token)).code == "HANDOFF_AUDIENCE_REFUSED"


async def test_expired_handoff_is_refused(verifier: HandoffVerifier, key: IvrKey) -> None:
    past = int(time.time()) - 1000
    token = key.sign(handoff_claims(iat=past, exp=past + 60, auth_time=past))

    assert (await refusal(verifier, token)).code == "HANDOFF_EXPIRED"


async def test_exp_more_than_five_minutes_after_iat_is_refused(
    verifier: HandoffVerifier, key: IvrKey
) -> None:
    now = int(time.time())
    token = key.sign(handoff_claims(iat=now, exp=now + 301))

    assert (await refusal(verifier, token)).code == "HANDOFF_LIFETIME_TOO_LONG"


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "iss", "aud"])
async def test_missing_registered_claim_is_refused(
    verifier: HandoffVerifier, key: IvrKey, claim: str
) -> None:
    claims = handoff_claims()
    del claims[claim]

    error = await refusal(verifier, key.sign(claims))
    assert error.code in {
        "HANDOFF_CLAIMS_INVALID",
        "HANDOFF_ISSUER_REFUSED",
        "HANDOFF_AUDIENCE_REFUSED",
    }


@pytest.mark.parametrize(
    "claim",
    ["contact_id", "ani", "customer_ref", "auth_method", "auth_result", "auth_score", "auth_time"],
)
async def test_missing_handoff_claim_is_refused_by_name(
    verifier: HandoffVerifier, key: IvrKey, claim: str
) -> None:
    claims = handoff_claims()
    del claims[claim]

    error = await refusal(verifier, key.sign(claims))
    assert error.code == "HANDOFF_CLAIMS_INVALID"
    assert claim in error.message


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("customer_ref", {"type": "PASSPORT", "value": "x"}),
        ("auth_method", "FINGERPRINT"),
        ("auth_result", "MAYBE"),
        ("auth_score", "0.9"),
        ("auth_score", 1.5),
        ("auth_time", "yesterday"),
        ("contact_id", 12),
    ],
)
async def test_ill_typed_claim_is_refused(
    verifier: HandoffVerifier, key: IvrKey, claim: str, value: object
) -> None:
    claims = handoff_claims()
    claims[claim] = value

    error = await refusal(verifier, key.sign(claims))

    assert error.code == "HANDOFF_CLAIMS_INVALID"


async def test_unknown_kid_is_refused(verifier: HandoffVerifier, key: IvrKey) -> None:
    token = key.sign(handoff_claims(), headers={"kid": "not-the-ivr"})

    assert (await refusal(verifier, token)).code == "HANDOFF_KEY_UNKNOWN"


async def test_handoff_signed_by_another_key_with_the_ivr_kid_is_refused(
    verifier: HandoffVerifier,
) -> None:
    impostor = IvrKey()

    error = await refusal(verifier, impostor.sign(handoff_claims()))
    assert error.code == "HANDOFF_SIGNATURE_INVALID"


async def test_bearer_token_used_as_handoff_is_refused(
    verifier: HandoffVerifier, tmp_path: Any
) -> None:
    keys: DemoKeys = ensure_demo_keys(tmp_path)
    bearer = mint_token(keys, AuthSettings(), subject="ivr-1", role="ivr")

    assert (await refusal(verifier, bearer)).code == "HANDOFF_TYPE_REFUSED"


async def test_garbage_is_refused_as_malformed(verifier: HandoffVerifier) -> None:
    assert (await refusal(verifier, "not a jws")).code == "HANDOFF_MALFORMED"


def test_level_table_gives_nothing_unless_authenticated() -> None:
    assert verification_level(HANDOFF.level_rules, "PIN", "INCONCLUSIVE", 0.99) is (
        VerificationLevel.NONE
    )


@pytest.mark.parametrize(
    ("score", "level"),
    [(0.95, VerificationLevel.HIGH), (0.7, VerificationLevel.LOW), (0.3, VerificationLevel.NONE)],
)
def test_voice_biometric_level_depends_on_the_score(score: float, level: VerificationLevel) -> None:
    assert verification_level(HANDOFF.level_rules, "VOICE_BIOMETRIC", "AUTHENTICATED", score) is (
        level
    )


def test_level_table_comes_from_settings() -> None:
    rules = (LevelRule(method="OTP", level="HIGH"),)

    assert verification_level(rules, "OTP", "AUTHENTICATED", None) is VerificationLevel.HIGH
    assert verification_level(rules, "PIN", "AUTHENTICATED", None) is VerificationLevel.NONE


def test_hs_algorithms_cannot_be_configured(key: IvrKey) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        HandoffVerifier(HANDOFF.model_copy(update={"algorithms": ("HS256",)}), key.key_ring())


async def test_unreachable_jwks_is_an_outage_not_a_bad_handoff(key: IvrKey) -> None:
    async def fetch() -> dict[str, Any]:
        raise OSError("connection refused")

    verifier = HandoffVerifier(HANDOFF, KeyRing(fetch_jwks=fetch))

    error = await refusal(verifier, key.sign(handoff_claims()))
    assert (error.code, error.status) == ("IVR_KEYS_UNAVAILABLE", 503)


@pytest.mark.parametrize("offset", [-3600, 600])
async def test_auth_time_far_from_iat_is_refused(
    verifier: HandoffVerifier, key: IvrKey, offset: int
) -> None:
    now = int(time.time())
    token = key.sign(handoff_claims(iat=now, exp=now + 120, auth_time=now + offset))

    assert (await refusal(verifier, token)).code == "HANDOFF_AUTH_TIME_INVALID"
