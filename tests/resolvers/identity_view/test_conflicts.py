"""Conflicts in the graph: values the systems disagree on, and the one chosen (the system of
record's, or the next system's)."""

from __future__ import annotations

import strawberry

from tests.resolvers.identity_view.identity_view_kit import ALAN, B, C, MemoryEvidence, S, key, run
from tests.resolvers.memory_store import MemoryStore

CONFLICTS = """{ customer(id: "alan") { conflicts {
  field values { value source isSystemOfRecord } chosen { value source } } } }"""


# --- conflicts ---------------------------------------------------------------------------------


async def test_alan_has_one_email_conflict_with_the_crm_value_chosen(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await run(schema, store, evidence, CONFLICTS)
    assert errors == []
    assert data["customer"]["conflicts"] == [
        {
            "field": "email",
            "values": [
                {"value": "alan.turing@example.com", "source": "CRM", "isSystemOfRecord": True},
                {
                    "value": "alan.turing@example.com",
                    "source": "BILLING",
                    "isSystemOfRecord": False,
                },
                {"value": "alan@turing.example", "source": "SUPPORT", "isSystemOfRecord": False},
            ],
            "chosen": {"value": "alan.turing@example.com", "source": "CRM"},
        }
    ]


async def test_records_that_agree_after_normalisation_have_no_conflict(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await run(
        schema, store, evidence, '{ customer(id: "kj") { conflicts { field } } }'
    )
    assert errors == []
    assert data["customer"]["conflicts"] == []


async def test_the_configured_system_of_record_is_the_value_chosen(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, _ = await run(
        schema, store, evidence, CONFLICTS, system_of_record={"email": S, "phone": C}
    )
    [conflict] = data["customer"]["conflicts"]
    assert conflict["chosen"] == {"value": "alan@turing.example", "source": "SUPPORT"}
    assert [v["source"] for v in conflict["values"] if v["isSystemOfRecord"]] == ["SUPPORT"]


async def test_without_a_value_from_the_system_of_record_the_next_system_is_chosen(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    evidence.keys[ALAN] = (
        key("email", "alan@turing.example", S, "9003"),
        key("email", "alan.turing@example.com", B, "cus_alan"),
    )
    data, _ = await run(schema, store, evidence, CONFLICTS)
    [conflict] = data["customer"]["conflicts"]
    # CRM is the system of record but has no email: billing comes before support.
    assert conflict["chosen"] == {"value": "alan.turing@example.com", "source": "BILLING"}
    assert not any(v["isSystemOfRecord"] for v in conflict["values"])
