"""Who sees what: personal fields through the schema, for each role and verification."""

from __future__ import annotations

from typing import Any

import strawberry

from kernel.access import VerificationLevel
from tests.fake_systems import FakeSystems
from tests.resolvers.extensions.masking_roles.masking_roles_kit import (
    ADA_EMAIL,
    ADA_PHONE,
    AGENT,
    ANALYST,
    IVR,
    SUPERVISOR,
    interaction,
    run,
)
from tests.resolvers.memory_store import MemoryStore

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
