"""The audit of personal fields read through the schema: its entries, and personal fields
withheld when it cannot be written (fail closed)."""

from __future__ import annotations

import strawberry

from kernel.access import AuditEntry, VerificationLevel
from tests.fake_systems import FakeSystems
from tests.resolvers.extensions.masking_roles.masking_roles_kit import (
    ADA,
    AGENT,
    ANALYST,
    IVR,
    SUPERVISOR,
    interaction,
    run,
)
from tests.resolvers.memory_audit import MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore

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
