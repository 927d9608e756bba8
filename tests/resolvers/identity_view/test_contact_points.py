"""Contact points in the graph: each email and phone once per value and system, masked by
who asks."""

from __future__ import annotations

import strawberry

from kernel.access import ActiveInteraction, VerificationLevel
from kernel.identity import CustomerId
from tests.resolvers.identity_view.identity_view_kit import (
    AGENT,
    ALAN,
    ANALYST,
    IVR,
    MemoryEvidence,
    run,
)
from tests.resolvers.memory_audit import MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore

CONTACT = """{ customer(id: "alan") { contact {
  emails { value source isSystemOfRecord } phones { value source isSystemOfRecord } } } }"""


# --- contact points ----------------------------------------------------------------------------


def verified_call(customer_id: CustomerId, level: VerificationLevel) -> ActiveInteraction:
    """The agent's interaction with ``customer_id``, verified at ``level``."""
    return ActiveInteraction(
        interaction_id=f"int-{customer_id}-{level.name}",
        contact_id=f"contact-{customer_id}-{level.name}",
        customer_id=customer_id,
        agent=AGENT.subject,
        level=level,
    )


async def test_contact_lists_each_email_and_phone_once_per_value_and_system(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await run(schema, store, evidence, CONTACT)
    assert errors == []
    assert data["customer"]["contact"] == {
        "emails": [
            {"value": "alan.turing@example.com", "source": "CRM", "isSystemOfRecord": True},
            {"value": "alan.turing@example.com", "source": "BILLING", "isSystemOfRecord": False},
            {"value": "alan@turing.example", "source": "SUPPORT", "isSystemOfRecord": False},
        ],
        "phones": [{"value": "+441614960311", "source": "CRM", "isSystemOfRecord": True}],
    }


async def test_contact_values_are_masked_for_an_analyst(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await run(schema, store, evidence, CONTACT, ANALYST, purpose=None)
    assert errors == []
    contact = data["customer"]["contact"]
    assert [e["value"] for e in contact["emails"]] == [
        "a***@example.com",
        "a***@example.com",
        "a***@turing.example",
    ]
    assert [p["value"] for p in contact["phones"]] == ["+44*******311"]


async def test_contact_values_are_masked_for_an_agent_with_no_call_for_the_customer(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    someone_else = verified_call(CustomerId("ada"), VerificationLevel.HIGH)
    data, errors = await run(
        schema, store, evidence, CONTACT, AGENT, purpose=None, interaction=someone_else
    )
    assert errors == []
    assert data["customer"]["contact"]["phones"] == [
        {"value": "+44*******311", "source": "CRM", "isSystemOfRecord": True}
    ]
    assert data["customer"]["contact"]["emails"][2]["value"] == "a***@turing.example"


async def test_an_ivr_client_gets_each_contact_value_null_and_the_rest_served(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await run(schema, store, evidence, CONTACT, IVR, purpose=None)
    assert data["customer"]["contact"]["phones"] == [
        {"value": None, "source": "CRM", "isSystemOfRecord": True}
    ]
    assert [e["value"] for e in data["customer"]["contact"]["emails"]] == [None, None, None]
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [
        (["customer", "contact", "emails", n, "value"], "FORBIDDEN") for n in range(3)
    ] + [(["customer", "contact", "phones", 0, "value"], "FORBIDDEN")]


async def test_an_agent_verified_below_medium_gets_the_values_withheld_with_the_level_needed(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    low = verified_call(ALAN, VerificationLevel.LOW)
    query = '{ customer(id: "alan") { contact { phones { value source } } } }'
    data, errors = await run(schema, store, evidence, query, AGENT, purpose=None, interaction=low)
    assert data["customer"]["contact"]["phones"] == [{"value": None, "source": "CRM"}]
    assert [e["extensions"] for e in errors] == [
        {"code": "VERIFICATION_REQUIRED", "requiredLevel": "MEDIUM"}
    ]


async def test_an_agent_verified_for_the_customer_sees_the_values_as_they_are(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    medium = verified_call(ALAN, VerificationLevel.MEDIUM)
    query = '{ customer(id: "alan") { contact { phones { value } } } }'
    data, errors = await run(
        schema, store, evidence, query, AGENT, purpose=None, interaction=medium
    )
    assert errors == []
    assert data["customer"]["contact"]["phones"] == [{"value": "+441614960311"}]


async def test_the_audit_entry_names_the_contact_values_served_masked(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    audit = MemoryAuditSink()
    await run(schema, store, evidence, CONTACT, ANALYST, purpose=None, audit=audit)
    [entry] = audit.entries
    assert entry.customer_id == ALAN
    assert entry.fields == ("SourcedValue.value",)
    assert entry.masked is True
    assert entry.outcome == "masked"
