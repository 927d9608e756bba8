"""The sandbox IVR's handoffs: its signing key, its JWKS, and calls it plays on request.

A real IVR verifies a caller (PIN, OTP, knowledge questions, voice biometrics), records the
outcome as contact attributes, and hands the call to the contact centre with a signed
statement of who the caller is and how they were verified. The sandbox does the same on
``POST /_sandbox/calls``: it creates the contact with its attributes (so the gateway can
confirm them through the attributes API) and answers the compact JWS it signed with its own
EC P-256 key, generated when the sandbox starts and published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.records import Dataset, IvrContact
from sandbox.responses import JSON, JsonResponse

HANDOFF_TYPE = "ivr-handoff+jwt"
DEFAULT_ISSUER = "scv-sandbox-ivr"
DEFAULT_AUDIENCE = "scv-gateway-ivr"
#: Handoffs live for two minutes: long enough to queue for an agent, short enough to replay.
HANDOFF_LIFETIME_SECONDS = 120
JWKS_PATH = "/.well-known/jwks.json"
CALLS_PATH = "/_sandbox/calls"

RefType = Literal["PHONE", "ACCOUNT", "EMAIL", "CUSTOMER_ID"]
AuthMethod = Literal["PIN", "OTP", "KBA", "VOICE_BIOMETRIC"]
AuthResult = Literal["AUTHENTICATED", "NOT_AUTHENTICATED", "INCONCLUSIVE"]


@dataclass(frozen=True, slots=True)
class NamedCaller:
    """How the IVR identifies one named customer: the reference it records, and the line."""

    ref_type: RefType
    ref_value: str
    ani: str


#: The named customers the IVR can play calls for (facts from ``sandbox/data/named.py``).
NAMED_CALLERS: dict[str, NamedCaller] = {
    "ada": NamedCaller("PHONE", "+442079460018", "+442079460018"),
    "grace": NamedCaller("ACCOUNT", "cus_grace", "+14155550101"),
    "alan": NamedCaller("ACCOUNT", "cus_alan", "+441614960311"),
    "katherine": NamedCaller("ACCOUNT", "cus_katherine", "+17575550142"),
    "edsger": NamedCaller("EMAIL", "edsger.dijkstra@example.com", "+15125550106"),
    "barbara": NamedCaller("ACCOUNT", "cus_barbara", "+16175550107"),
}


class HandoffKey:
    """The IVR's signing key pair, made once per sandbox process."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        self.kid = f"sandbox-ivr-{secrets.token_hex(4)}"

    def jwks(self) -> JSON:
        """The public half as a JWK Set."""
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.ECAlgorithm.to_jwk(self._private.public_key())
        )
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def sign(self, claims: JSON) -> str:
        """``claims`` as a compact JWS, ``typ`` ``ivr-handoff+jwt``."""
        return jwt.encode(
            claims, self._private, algorithm="ES256", headers={"typ": HANDOFF_TYPE, "kid": self.kid}
        )


class CallRequest(BaseModel):
    """A call to play: who rings (a named customer or a phone number) and how it goes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer: str | None = Field(default=None, description="a named customer: ada, grace, ...")
    phone: str | None = Field(default=None, min_length=4, max_length=32)
    auth_method: AuthMethod = "PIN"
    auth_result: AuthResult = "AUTHENTICATED"
    auth_score: float = Field(default=0.97, ge=0, le=1)
    audience: str = Field(default=DEFAULT_AUDIENCE, min_length=1)

    @model_validator(mode="after")
    def _one_caller(self) -> CallRequest:
        if (self.customer is None) == (self.phone is None):
            raise ValueError("give exactly one of customer or phone")
        if self.customer is not None and self.customer.lower() not in NAMED_CALLERS:
            raise ValueError(f"unknown customer; choose from {sorted(NAMED_CALLERS)}")
        return self

    def caller(self) -> NamedCaller:
        """The reference and line of this call."""
        if self.customer is not None:
            return NAMED_CALLERS[self.customer.lower()]
        assert self.phone is not None
        return NamedCaller("PHONE", self.phone, self.phone)


class HandoffIssuer:
    """Plays calls into one dataset's IVR store and signs their handoffs."""

    def __init__(self, dataset: Dataset, key: HandoffKey | None = None) -> None:
        self.dataset = dataset
        self.key = key or HandoffKey()

    def routes(self) -> list[Route]:
        """The JWKS (public, like any JWKS) and the call-playing control route."""
        return [
            Route(JWKS_PATH, self.get_jwks, methods=["GET"]),
            Route(CALLS_PATH, self.play_call, methods=["POST"]),
        ]

    async def get_jwks(self, request: Request) -> Response:
        """GET /.well-known/jwks.json."""
        return JsonResponse(self.key.jwks(), headers={"Cache-Control": "max-age=300"})

    async def play_call(self, request: Request) -> Response:
        """POST /_sandbox/calls: create the contact and answer its signed handoff."""
        try:
            call = CallRequest.model_validate_json(await request.body() or b"null")
        except ValidationError as exc:
            reasons = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return JsonResponse({"error": "invalid call", "message": reasons}, status_code=400)
        contact_id, handoff = self.play(call)
        return JsonResponse({"contact_id": contact_id, "handoff": handoff}, status_code=201)

    def play(self, call: CallRequest, now: int | None = None) -> tuple[str, str]:
        """Record the call's contact and attributes; its id and signed handoff."""
        moment = int(time.time()) if now is None else now
        caller = call.caller()
        contact_id = str(uuid.uuid4())
        self.dataset.ivr.contacts.add(
            IvrContact(
                id=contact_id,
                initiated=moment,
                caller_number=caller.ani,
                attributes={
                    "CallerNumber": caller.ani,
                    "CustomerRefType": caller.ref_type,
                    "CustomerRefValue": caller.ref_value,
                    "AuthMethod": call.auth_method,
                    "AuthResult": call.auth_result,
                    "AuthScore": f"{call.auth_score:.2f}",
                    "AuthTime": str(moment),
                },
            )
        )
        claims: JSON = {
            "iss": DEFAULT_ISSUER,
            "aud": call.audience,
            "iat": moment,
            "exp": moment + HANDOFF_LIFETIME_SECONDS,
            "jti": uuid.uuid4().hex,
            "contact_id": contact_id,
            "ani": caller.ani,
            "customer_ref": {"type": caller.ref_type, "value": caller.ref_value},
            "auth_method": call.auth_method,
            "auth_result": call.auth_result,
            "auth_score": round(call.auth_score, 2),
            "auth_time": moment,
        }
        return contact_id, self.key.sign(claims)
