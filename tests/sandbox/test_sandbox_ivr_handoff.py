"""The sandbox IVR's handoffs: it plays a call, records the contact, and signs the handoff
with a key whose public half it publishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from sandbox.data.generate import generate_dataset
from sandbox.server import create_sandbox_app

IVR_KEY = {"x-api-key": "ivr-sandbox-key"}


@pytest.fixture
async def ivr() -> AsyncIterator[httpx.AsyncClient]:
    """A sandbox of its own: playing calls adds contacts, which shared data must not see."""
    app = create_sandbox_app(dataset=generate_dataset(seed=7, customers=5))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox/ivr") as client:
        yield client


async def play(ivr: httpx.AsyncClient, **call: Any) -> dict[str, Any]:
    response = await ivr.post("/_sandbox/calls", json=call)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def verified_claims(ivr: httpx.AsyncClient, handoff: str) -> dict[str, Any]:
    jwks = (await ivr.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(handoff)["kid"]
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == kid)
    claims: dict[str, Any] = jwt.decode(
        handoff, key.key, algorithms=["ES256"], audience="scv-gateway-ivr"
    )
    return claims


async def test_jwks_is_public(ivr: httpx.AsyncClient) -> None:
    response = await ivr.get("/.well-known/jwks.json")

    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
    assert "d" not in key


async def test_handoff_of_ada_is_signed_and_complete(ivr: httpx.AsyncClient) -> None:
    played = await play(ivr, customer="ada")

    assert jwt.get_unverified_header(played["handoff"])["typ"] == "ivr-handoff+jwt"
    claims = await verified_claims(ivr, played["handoff"])
    assert claims["contact_id"] == played["contact_id"]
    assert claims["customer_ref"] == {"type": "PHONE", "value": "+442079460018"}
    assert (claims["auth_method"], claims["auth_result"]) == ("PIN", "AUTHENTICATED")
    assert claims["iss"] == "scv-sandbox-ivr"
    assert claims["exp"] - claims["iat"] <= 300
    assert {"jti", "ani", "auth_score", "auth_time"} <= claims.keys()


async def test_played_call_is_recorded_as_contact_attributes(ivr: httpx.AsyncClient) -> None:
    played = await play(ivr, customer="ada", auth_method="OTP", auth_result="INCONCLUSIVE")

    response = await ivr.get(f"/contacts/{played['contact_id']}/attributes", headers=IVR_KEY)

    attributes = response.json()["Attributes"]
    assert attributes["CustomerRefType"] == "PHONE"
    assert attributes["CustomerRefValue"] == "+442079460018"
    assert (attributes["AuthMethod"], attributes["AuthResult"]) == ("OTP", "INCONCLUSIVE")


async def test_a_call_from_a_phone_number_refers_to_that_number(ivr: httpx.AsyncClient) -> None:
    played = await play(ivr, phone="+14155550101")

    claims = await verified_claims(ivr, played["handoff"])
    assert claims["customer_ref"] == {"type": "PHONE", "value": "+14155550101"}
    assert claims["ani"] == "+14155550101"


async def test_each_call_has_its_own_jti_and_contact(ivr: httpx.AsyncClient) -> None:
    first = await play(ivr, customer="grace")
    second = await play(ivr, customer="grace")

    assert first["contact_id"] != second["contact_id"]
    first_claims = await verified_claims(ivr, first["handoff"])
    second_claims = await verified_claims(ivr, second["handoff"])
    assert first_claims["jti"] != second_claims["jti"]


@pytest.mark.parametrize(
    "call",
    [
        {},
        {"customer": "ada", "phone": "+442079460018"},
        {"customer": "nobody"},
        {"customer": "ada", "auth_result": "MAYBE"},
        {"customer": "ada", "auth_score": 2},
        {"customer": "ada", "colour": "blue"},
    ],
)
async def test_bad_call_is_refused(ivr: httpx.AsyncClient, call: dict[str, Any]) -> None:
    response = await ivr.post("/_sandbox/calls", json=call)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid call"
