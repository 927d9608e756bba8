"""Personal fields through the schema, for each role and verification, and their audit."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from app.http.errors import PresentErrors
from kernel.access import ActiveInteraction, AuditEntry, Principal, VerificationLevel
from kernel.identity import CustomerId
from kernel.models import Address
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.builders import crm_contact, ticket
from tests.fake_systems import FakeSystems, named_customers
from tests.resolvers.memory_audit import MemoryAuditReader, MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore, named_store

ADA = CustomerId("ada")
ADA_EMAIL = "ada.lovelace@example.com"
ADA_PHONE = "+44 20 7946 0018"

AGENT = Principal(subject="agent-1", role="agent")
ANALYST = Principal(subject="analyst-1", role="analyst")
SUPERVISOR = Principal(subject="supervisor-1", role="supervisor")
IVR = Principal(subject="ivr-platform", role="ivr")

PERSONAL = """query($id: ID!) { customer(id: $id) {
  id displayName
  profile { name email phone address { line1 line2 city region postalCode country } }
  billing { balance { amount } paymentCards { brand last4 expMonth expYear } }
  support { openTicketCount tickets(first: 5) { id subject } }
} }"""


@pytest.fixture
def systems() -> FakeSystems:
    systems = named_customers()
    systems.crm.contacts["1001"] = crm_contact(
        "1001",
        "Ada",
        "Lovelace",
        email=ADA_EMAIL,
        phone=ADA_PHONE,
        billing_id="cus_ada",
        address=Address(
            line1="12 St James's Square",
            line2="Flat 3",
            city="London",
            region="Greater London",
            postal_code="SW1Y 4JH",
            country="GB",
        ),
    )
    systems.support.tickets["9001"] = [ticket("70001", "Call me on +44 20 7946 0018")]
    return systems


@pytest.fixture
def store() -> MemoryStore:
    return named_store()


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


def interaction(
    customer: str = "ada", level: VerificationLevel = VerificationLevel.HIGH
) -> ActiveInteraction:
    return ActiveInteraction(
        interaction_id="int-7",
        contact_id="contact-ada-0001",
        customer_id=CustomerId(customer),
        agent=AGENT.subject,
        level=level,
    )


async def run(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    principal: Principal,
    *,
    query: str = PERSONAL,
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
    audit: MemoryAuditSink | None = None,
    reader: MemoryAuditReader | None = None,
    **variables: Any,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sources = Sources(
        billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr
    )
    context = new_context(
        principal,
        store,
        sources,
        "US",
        interaction=interaction,
        purpose=purpose,
        audit=audit if audit is not None else MemoryAuditSink(),
        audit_trail=reader,
        request_id="req-1",
        client_address="10.0.0.7",
    )
    result = await schema.execute(
        query, variable_values=variables or {"id": "ada"}, context_value=context
    )
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]


MASKED_ADA = {
    "id": "ada",
    "displayName": "Ada L.",
    "profile": {
        "name": "Ada L.",
        "email": "a***@example.com",
        "phone": "+44*******018",
        "address": {
            "line1": None,
            "line2": None,
            "city": "London",
            "region": "Greater London",
            "postalCode": None,
            "country": "GB",
        },
    },
    "billing": {
        "balance": {"amount": "0"},
        "paymentCards": [{"brand": "visa", "last4": "4242", "expMonth": None, "expYear": None}],
    },
    "support": {"openTicketCount": 1, "tickets": [{"id": "70001", "subject": "Call me on ***"}]},
}


#: Analysts have no use for the customer's own words: free text is masked whole for them.
MASKED_ADA_FOR_ANALYSTS = {
    **MASKED_ADA,
    "support": {"openTicketCount": 1, "tickets": [{"id": "70001", "subject": "***"}]},
}


def unmasked(data: dict[str, Any]) -> bool:
    profile = data["customer"]["profile"]
    return bool(profile["email"] == ADA_EMAIL and profile["phone"] == ADA_PHONE)


# --- who sees what ---------------------------------------------------------------------------


async def test_an_agent_without_an_interaction_sees_ada_masked(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, AGENT)
    assert errors == []
    assert data["customer"] == MASKED_ADA


async def test_an_analyst_sees_ada_masked(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, ANALYST, purpose="research")
    assert errors == []
    assert data["customer"] == MASKED_ADA_FOR_ANALYSTS


async def test_an_agent_verified_for_ada_at_high_sees_her_as_she_is(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, AGENT, interaction=interaction())
    assert errors == []
    ada = data["customer"]
    assert ada["displayName"] == "Ada Lovelace"
    assert ada["profile"]["email"] == ADA_EMAIL
    assert ada["profile"]["phone"] == ADA_PHONE
    assert ada["profile"]["address"]["postalCode"] == "SW1Y 4JH"
    assert ada["billing"]["paymentCards"] == [
        {"brand": "visa", "last4": "4242", "expMonth": 12, "expYear": 2030}
    ]
    assert ada["support"]["tickets"][0]["subject"] == "Call me on +44 20 7946 0018"


async def test_a_field_above_the_interactions_level_is_null_with_the_level_needed(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customer(id: "ada") { profile { email } billing { paymentCards { expMonth } } } }'
    data, errors = await run(
        schema,
        systems,
        store,
        AGENT,
        query=query,
        interaction=interaction(level=VerificationLevel.MEDIUM),
    )
    assert data["customer"]["profile"]["email"] == ADA_EMAIL
    assert data["customer"]["billing"]["paymentCards"] == [{"expMonth": None}]
    assert [(e["path"], e["extensions"]) for e in errors] == [
        (
            ["customer", "billing", "paymentCards", 0, "expMonth"],
            {"code": "VERIFICATION_REQUIRED", "requiredLevel": "HIGH"},
        )
    ]


async def test_an_unverified_caller_in_an_interaction_unlocks_nothing(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customer(id: "ada") { displayName profile { email } } }'
    data, errors = await run(
        schema,
        systems,
        store,
        AGENT,
        query=query,
        interaction=interaction(level=VerificationLevel.NONE),
    )
    assert data["customer"] == {"displayName": None, "profile": {"email": None}}
    assert [e["extensions"]["requiredLevel"] for e in errors] == ["LOW", "MEDIUM"]


async def test_an_agent_verified_for_ada_sees_grace_masked(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customer(id: "grace") { displayName profile { email phone } } }'
    data, errors = await run(schema, systems, store, AGENT, query=query, interaction=interaction())
    assert errors == []
    assert data["customer"] == {
        "displayName": "Grace H.",
        "profile": {"email": "g***@example.com", "phone": "+1*******101"},
    }


async def test_one_query_about_two_customers_unmasks_only_the_verified_one(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = """{ a: customer(id: "ada") { profile { email } }
                 g: customer(id: "grace") { profile { email } } }"""
    data, _ = await run(schema, systems, store, AGENT, query=query, interaction=interaction())
    assert data == {
        "a": {"profile": {"email": ADA_EMAIL}},
        "g": {"profile": {"email": "g***@example.com"}},
    }


async def test_a_supervisor_without_a_purpose_sees_ada_masked(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, SUPERVISOR)
    assert errors == []
    assert data["customer"] == MASKED_ADA


async def test_a_supervisor_with_a_purpose_sees_ada_as_she_is(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, SUPERVISOR, purpose="complaint C-77")
    assert errors == []
    assert unmasked(data)


async def test_the_ivr_gets_no_personal_data_but_the_rest(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customer(id: "ada") { id displayName billing { delinquent } } }'
    data, errors = await run(schema, systems, store, IVR, query=query)
    assert data["customer"] == {"id": "ada", "displayName": None, "billing": {"delinquent": False}}
    assert [e["extensions"] for e in errors] == [{"code": "FORBIDDEN"}]


async def test_a_cached_value_is_masked_per_request(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    # Masking is per request, after the adapters: the same source answer goes out as it is
    # to the verified agent and masked to the analyst right after.
    verified, _ = await run(schema, systems, store, AGENT, interaction=interaction())
    analyst, _ = await run(schema, systems, store, ANALYST)
    assert unmasked(verified)
    assert analyst["customer"] == MASKED_ADA_FOR_ANALYSTS


# --- the audit entries -----------------------------------------------------------------------


async def test_a_masked_read_is_audited_with_its_fields_and_never_a_value(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    await run(schema, systems, store, ANALYST, audit=audit)
    assert audit.batches == 1
    [entry] = audit.entries
    assert entry == AuditEntry(
        kind="READ",
        subject="analyst-1",
        role="analyst",
        outcome="masked",
        customer_id=ADA,
        request_id="req-1",
        fields=(
            "Address.line1",
            "Address.line2",
            "Address.postalCode",
            "Customer.displayName",
            "PaymentCard.expMonth",
            "PaymentCard.expYear",
            "PaymentCard.last4",
            "Profile.email",
            "Profile.name",
            "Profile.phone",
            "Ticket.subject",
        ),
        masked=True,
        client_address="10.0.0.7",
    )
    assert "lovelace" not in repr(entry).lower()


async def test_an_unmasked_read_names_its_interaction(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    await run(schema, systems, store, AGENT, interaction=interaction(), audit=audit)
    [entry] = audit.entries
    assert (entry.outcome, entry.masked, entry.interaction_id) == ("served", False, "int-7")


async def test_withheld_fields_are_audited_with_the_level_they_needed(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    query = '{ customer(id: "ada") { profile { name email } } }'
    level = VerificationLevel.LOW
    await run(
        schema,
        systems,
        store,
        AGENT,
        query=query,
        interaction=interaction(level=level),
        audit=audit,
    )
    [entry] = audit.entries
    assert (entry.outcome, entry.fields) == ("served", ("Profile.name",))
    assert entry.detail == "withheld: Profile.email (needs MEDIUM)"


async def test_a_denied_read_is_audited_as_denied(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    await run(
        schema, systems, store, IVR, query='{ customer(id: "ada") { displayName } }', audit=audit
    )
    [entry] = audit.entries
    assert (entry.outcome, entry.fields) == ("denied", ())
    assert entry.detail == "withheld: Customer.displayName (role)"


async def test_each_customer_touched_gets_one_entry(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    query = """{ a: customer(id: "ada") { profile { email } support { tickets { subject } } }
                 g: customer(id: "grace") { billing { delinquent } } }"""
    await run(schema, systems, store, AGENT, query=query, audit=audit)
    assert sorted((e.customer_id, e.fields) for e in audit.entries) == [
        ("ada", ("Profile.email", "Ticket.subject")),
        ("grace", ()),
    ]
    assert audit.batches == 1


async def test_a_supervisors_purpose_is_on_the_read_and_stated_on_its_own(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    await run(schema, systems, store, SUPERVISOR, purpose="complaint C-77", audit=audit)
    assert [(e.kind, e.outcome, e.purpose) for e in audit.entries] == [
        ("READ", "served", "complaint C-77"),
        ("PURPOSE", "stated", "complaint C-77"),
    ]


async def test_a_response_without_customer_data_is_not_audited(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    audit = MemoryAuditSink()
    query = '{ customerByPhone(phone: "+1 202 555 0199") { id } }'
    await run(schema, systems, store, AGENT, query=query, audit=audit)
    assert (audit.batches, audit.entries) == (0, [])


# --- fail closed -----------------------------------------------------------------------------


async def test_when_the_audit_fails_personal_fields_are_withheld_and_the_rest_served(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    query = '{ customer(id: "ada") { id displayName profile { email } billing { delinquent } } }'
    data, errors = await run(
        schema,
        systems,
        store,
        AGENT,
        query=query,
        interaction=interaction(),
        audit=MemoryAuditSink(failing=True),
    )
    assert data["customer"] == {
        "id": "ada",
        "displayName": None,
        "profile": {"email": None},
        "billing": {"delinquent": False},
    }
    assert sorted((e["path"], e["extensions"]["code"]) for e in errors) == [
        (["customer", "displayName"], "AUDIT_UNAVAILABLE"),
        (["customer", "profile", "email"], "AUDIT_UNAVAILABLE"),
    ]


async def test_when_the_audit_fails_masked_values_are_withheld_too(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    data, errors = await run(schema, systems, store, ANALYST, audit=MemoryAuditSink(failing=True))
    profile = data["customer"]["profile"]
    assert (profile["name"], profile["email"], profile["phone"]) == (None, None, None)
    assert data["customer"]["profile"]["address"]["city"] == "London"
    assert {e["extensions"]["code"] for e in errors} == {"AUDIT_UNAVAILABLE"}


# --- auditTrail ------------------------------------------------------------------------------

TRAIL = """query($id: ID!, $first: Int, $after: String) {
  auditTrail(customerId: $id, first: $first, after: $after) {
    events { kind subject outcome fields purpose } endCursor hasNextPage } }"""


def reader_with(count: int) -> MemoryAuditReader:
    return MemoryAuditReader(
        [
            AuditEntry(
                kind="READ", subject=f"agent-{n}", role="agent", outcome="masked", customer_id=ADA
            )
            for n in range(1, count + 1)
        ]
    )


@pytest.mark.parametrize("principal", [AGENT, ANALYST, IVR], ids=lambda p: p.role)
async def test_only_supervisors_may_read_the_audit_trail(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore, principal: Principal
) -> None:
    data, errors = await run(
        schema, systems, store, principal, query=TRAIL, reader=reader_with(1), id="ada"
    )
    assert data == {"auditTrail": None}
    assert errors[0]["extensions"] == {"code": "FORBIDDEN"}


async def test_a_supervisor_pages_through_the_trail_newest_first(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    reader = reader_with(3)
    first, errors = await run(
        schema, systems, store, SUPERVISOR, query=TRAIL, reader=reader, id="ada", first=2
    )
    assert errors == []
    page = first["auditTrail"]
    assert [e["subject"] for e in page["events"]] == ["agent-3", "agent-2"]
    assert page["hasNextPage"] is True
    second, _ = await run(
        schema,
        systems,
        store,
        SUPERVISOR,
        query=TRAIL,
        reader=reader,
        id="ada",
        first=2,
        after=page["endCursor"],
    )
    assert [e["subject"] for e in second["auditTrail"]["events"]] == ["agent-1"]
    assert second["auditTrail"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"after": "not-a-cursor"}, "after is not a cursor from auditTrail"),
        ({"first": 0}, "first must be between 1 and 100"),
        ({"first": 101}, "first must be between 1 and 100"),
    ],
    ids=["cursor", "first-0", "first-101"],
)
async def test_bad_audit_trail_arguments_get_a_clear_error(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    variables: dict[str, Any],
    message: str,
) -> None:
    _, errors = await run(
        schema,
        systems,
        store,
        SUPERVISOR,
        query=TRAIL,
        reader=reader_with(1),
        id="ada",
        **variables,
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in errors[0]["message"]
