"""What the handoff and interaction tests share: an IVR signing key, handoffs signed with it,
and the interaction service over a real store holding the named customers."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.interactions.handoff import HandoffVerifier
from app.interactions.service import InteractionDependencies, Interactions
from app.interactions.settings import HandoffSettings, InteractionSettings
from app.interactions.tokens import InteractionTokens
from app.security.auth import KeyRing
from app.store.customers import Store
from kernel.access import AuditEntry, Principal
from kernel.interactions import Actor
from kernel.linking import LiveLinker
from kernel.models import Address, CrmContactId
from resolvers.context import Sources
from tests.builders import ivr_contact
from tests.fake_systems import FakeSystems, named_customers

HANDOFF = HandoffSettings()
INTERACTIONS = InteractionSettings()
IVR_KID = "test-ivr-1"
ADA_E164 = "+442079460018"
ADA_POSTCODE = "SW1Y 4JH"
ADA_BORN = date(1815, 12, 10)


@dataclass
class IvrKey:
    """The IVR's key pair as a test holds it: signs handoffs, publishes a JWKS."""

    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    kid: str = IVR_KID

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def key_ring(self) -> KeyRing:
        async def fetch() -> dict[str, Any]:
            return self.jwks()

        return KeyRing(fetch_jwks=fetch, refetch_interval=0.0)

    def sign(
        self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None, alg: str = "ES256"
    ) -> str:
        return jwt.encode(
            claims,
            self.private,
            algorithm=alg,
            headers={"typ": "ivr-handoff+jwt", "kid": self.kid, **(headers or {})},
        )


def handoff_claims(contact_id: str = "contact-1", **overrides: Any) -> dict[str, Any]:
    """A valid handoff for Ada, by PIN, issued now."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": HANDOFF.issuer,
        "aud": HANDOFF.audience,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "contact_id": contact_id,
        "ani": ADA_E164,
        "customer_ref": {"type": "PHONE", "value": ADA_E164},
        "auth_method": "PIN",
        "auth_result": "AUTHENTICATED",
        "auth_score": 0.97,
        "auth_time": now,
    }
    claims.update(overrides)
    return claims


class RecordingAudit:
    """An ``AuditSink`` that keeps what it is given."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entries: Any) -> None:
        self.entries.extend(entries)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Kit:
    """The service under test and the handles a test needs around it."""

    service: Interactions
    store: Store
    systems: FakeSystems
    key: IvrKey
    tokens: InteractionTokens
    audit: RecordingAudit
    clock: Clock

    def add_contact(self, contact_id: str, **attributes: Any) -> None:
        """The IVR platform's record of a call; Ada by PIN unless told otherwise."""
        fields: dict[str, Any] = {
            "caller_number": ADA_E164,
            "ref_type": "PHONE",
            "ref_value": ADA_E164,
            "auth_method": "PIN",
            "auth_result": "AUTHENTICATED",
            "auth_score": 0.97,
        }
        fields.update(attributes)
        self.systems.ivr.contacts[contact_id] = ivr_contact(contact_id, **fields)

    def handoff(self, contact_id: str, **overrides: Any) -> str:
        """A signed handoff of a call the IVR platform has recorded to agree with it."""
        self.add_contact(contact_id)
        return self.key.sign(handoff_claims(contact_id, **overrides))


def actor(subject: str, role: str = "agent") -> Actor:
    return Actor(principal=Principal(subject=subject, role=role))


IVR = actor("ivr-1", "ivr")
AGENT_1 = actor("agent-1")
AGENT_2 = actor("agent-2")
SUPERVISOR = actor("super-1", "supervisor")


async def build_kit(
    store: Store,
    settings: InteractionSettings = INTERACTIONS,
    live_linker: LiveLinker | None = None,
) -> Kit:
    """Named customers synced into ``store`` (Ada with a postcode), and the service.

    With ``live_linker``, handoffs for customers the store does not know ask it.
    """
    systems = named_customers()
    await sync_identities(store, systems.by_source, IdentitySettings())
    ada = systems.crm.contacts["1001"]
    systems.crm.contacts[CrmContactId("1001")] = ada.model_copy(
        update={
            "address": Address(city="London", postal_code=ADA_POSTCODE, country="GB"),
            "date_of_birth": ADA_BORN,
        }
    )
    key = IvrKey()
    tokens = InteractionTokens(ec.generate_private_key(ec.SECP256R1()), settings)
    audit = RecordingAudit()
    clock = Clock()
    service = Interactions(
        InteractionDependencies(
            store=store,
            ivr=systems.ivr,
            crm=systems.crm,
            handoffs=HandoffVerifier(HANDOFF, key.key_ring()),
            tokens=tokens,
            live_linker=live_linker,
            sources=Sources.from_adapters(systems.by_source),
        ),
        settings,
        HANDOFF.level_rules,
        default_region="GB",
        audit=audit,
        clock=clock,
    )
    return Kit(service, store, systems, key, tokens, audit, clock)
