"""Possible duplicates in the graph: candidates with reasons a supervisor understands."""

from __future__ import annotations

from typing import Any

import strawberry

from adapters.registry import fallback_order, record_nouns
from kernel.identity import CustomerId
from kernel.identity_evidence import IdentityEvidence, ReviewLead, SharedKeyLead
from resolvers.context import Sources, new_context
from tests.fake_systems import named_customers
from tests.resolvers.identity_view.identity_view_kit import (
    ALAN,
    KATE_TOO,
    KATHERINE,
    SUPERVISOR,
    SYSTEMS_OF_RECORD,
    B,
    C,
    MemoryEvidence,
    S,
    run,
)
from tests.resolvers.memory_store import MemoryStore

# --- possible duplicates -----------------------------------------------------------------------

DUPLICATES = """query($id: ID!) { customer(id: $id) {
  possibleDuplicates { customer { id links { source externalId } } reason } } }"""


async def test_katherine_has_a_duplicate_candidate_with_a_reason_a_supervisor_understands(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await _run_duplicates(schema, store, evidence, "kj")
    assert errors == []
    assert data["customer"]["possibleDuplicates"] == [
        {
            "customer": {"id": "kj2", "links": [{"source": "CRM", "externalId": "1005"}]},
            "reason": "same email address as CRM contact 1005; same name",
        }
    ]


async def test_a_reason_names_every_record_sharing_the_key_and_no_value(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    data, errors = await _run_duplicates(schema, store, evidence, "kj2")
    assert errors == []
    [candidate] = data["customer"]["possibleDuplicates"]
    assert candidate["reason"] == (
        "same email address as CRM contact 1004 and billing customer cus_katherine; same name"
    )
    assert "@" not in candidate["reason"]


async def test_records_the_rules_left_for_review_make_candidates_with_the_rules_named(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    evidence.leads[ALAN] = (
        ReviewLead(CustomerId("ada"), "rules_disagree", B, "cus_x", ("xref", "email")),
        ReviewLead(CustomerId("ada"), "ambiguous", S, "9100", ("phone",)),
    )
    data, errors = await _run_duplicates(schema, store, evidence, "alan")
    assert errors == []
    assert data["customer"]["possibleDuplicates"] == [
        {
            "customer": {
                "id": "ada",
                "links": [
                    {"source": "CRM", "externalId": "1001"},
                    {"source": "BILLING", "externalId": "cus_ada"},
                ],
            },
            "reason": "billing customer cus_x: xref and email point at these two different "
            "customers; support user 9100 matches both by phone",
        }
    ]


async def test_first_keeps_the_oldest_candidates_and_is_checked(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    evidence.leads[ALAN] = (
        SharedKeyLead(KATHERINE, "phone", C, "1004"),
        SharedKeyLead(KATE_TOO, "phone", C, "1005"),
        SharedKeyLead(KATHERINE, "email", B, "cus_katherine"),
    )
    query = '{ customer(id: "alan") { possibleDuplicates(first: 1) { customer { id } reason } } }'
    data, errors = await run(schema, store, evidence, query)
    assert errors == []
    assert data["customer"]["possibleDuplicates"] == [
        {
            "customer": {"id": "kj"},
            "reason": "same email address as billing customer cus_katherine; "
            "same phone number as CRM contact 1004",
        }
    ]
    _, errors = await run(schema, store, evidence, query.replace("first: 1", "first: 101"))
    assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"]


async def test_a_page_of_customers_costs_one_evidence_read_of_each_kind(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence
) -> None:
    query = """{ a: customer(id: "alan") { ...view } k: customer(id: "kj") { ...view }
                 k2: customer(id: "kj2") { ...view } }
      fragment view on Customer { contact { emails { source } } conflicts { field }
        possibleDuplicates { reason customer { contact { phones { source } } } } }"""
    _, errors = await run(schema, store, evidence, query)
    assert errors == []
    # The candidates are customers of the page: their contact points come from the loader.
    assert evidence.calls == {"contact_keys": 1, "duplicate_leads": 1}


# --- helpers -----------------------------------------------------------------------------------


def _no_sources() -> Sources:
    systems = named_customers()
    return Sources.from_adapters(systems.by_source)


async def _run_duplicates(
    schema: strawberry.Schema, store: MemoryStore, evidence: MemoryEvidence, customer: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    result = await schema.execute(
        DUPLICATES,
        variable_values={"id": customer},
        context_value=new_context(
            SUPERVISOR,
            store,
            _no_sources(),
            "US",
            evidence=IdentityEvidence(
                evidence, SYSTEMS_OF_RECORD, fallback_order(), record_nouns()
            ),
        ),
    )
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]
