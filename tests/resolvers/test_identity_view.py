"""Contact points, conflicts, possible duplicates and the data-quality report in the graph."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry

from adapters.registry import fallback_order, record_nouns
from app.http.errors import PresentErrors
from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.data_quality import (
    DataQualityReport,
    FieldCount,
    LastSync,
    SourceQuality,
    UnmappedWord,
)
from kernel.errors import StoreUnavailable
from kernel.identity import CustomerId
from kernel.identity_evidence import (
    ContactKey,
    DuplicateLead,
    IdentityEvidence,
    ReviewLead,
    SharedKeyLead,
)
from kernel.models import Source
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import FakeSystems, named_customers
from tests.resolvers.memory_audit import MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore

B, C, S = Source.BILLING, Source.CRM, Source.SUPPORT
ALAN, KATHERINE, KATE_TOO = CustomerId("alan"), CustomerId("kj"), CustomerId("kj2")
SYSTEMS_OF_RECORD: Mapping[str, Source] = {"email": C, "phone": C, "name": C}

SUPERVISOR = Principal(subject="supervisor-1", role="supervisor")
ANALYST = Principal(subject="analyst-1", role="analyst")
AGENT = Principal(subject="agent-1", role="agent")
IVR = Principal(subject="ivr-platform", role="ivr")


class MemoryEvidence:
    """Evidence as given, counting the batch reads it is asked for."""

    def __init__(self) -> None:
        self.keys: dict[CustomerId, tuple[ContactKey, ...]] = {}
        self.leads: dict[CustomerId, tuple[DuplicateLead, ...]] = {}
        self.calls: Counter[str] = Counter()

    async def contact_keys(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[ContactKey, ...]]:
        self.calls["contact_keys"] += 1
        return {i: self.keys[i] for i in ids if i in self.keys}

    async def duplicate_leads(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[DuplicateLead, ...]]:
        self.calls["duplicate_leads"] += 1
        return {i: self.leads[i] for i in ids if i in self.leads}


class FixedReport:
    def __init__(self, report: DataQualityReport) -> None:
        self.report = report

    async def data_quality_report(self) -> DataQualityReport:
        return self.report


def key(kind: str, value: str, source: Source, external_id: str) -> ContactKey:
    return ContactKey(kind, value, source, external_id)  # type: ignore[arg-type]


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.add("alan", "Alan Turing", [(C, "1003"), (B, "cus_alan"), (S, "9003")])
    store.add("kj", "Katherine Johnson", [(C, "1004"), (B, "cus_katherine"), (S, "9004")])
    store.add("kj2", "Katherine  johnson", [(C, "1005")])
    store.add("ada", "Ada Lovelace", [(C, "1001"), (B, "cus_ada")])
    return store


@pytest.fixture
def evidence() -> MemoryEvidence:
    evidence = MemoryEvidence()
    # As the store holds them: normalised, the billing email lower-cased like the CRM's.
    evidence.keys[ALAN] = (
        key("email", "alan.turing@example.com", C, "1003"),
        key("phone", "+441614960311", C, "1003"),
        key("email", "alan.turing@example.com", B, "cus_alan"),
        key("email", "alan@turing.example", S, "9003"),
    )
    evidence.keys[KATHERINE] = (
        key("email", "katherine.johnson@example.com", C, "1004"),
        key("email", "katherine.johnson@example.com", B, "cus_katherine"),
    )
    evidence.keys[KATE_TOO] = (key("email", "katherine.johnson@example.com", C, "1005"),)
    evidence.leads[KATHERINE] = (SharedKeyLead(KATE_TOO, "email", C, "1005"),)
    evidence.leads[KATE_TOO] = (
        SharedKeyLead(KATHERINE, "email", C, "1004"),
        SharedKeyLead(KATHERINE, "email", B, "cus_katherine"),
    )
    return evidence


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


async def run(
    schema: strawberry.Schema,
    store: MemoryStore,
    evidence: MemoryEvidence,
    query: str,
    principal: Principal = SUPERVISOR,
    *,
    purpose: str | None = "identity review",
    interaction: ActiveInteraction | None = None,
    system_of_record: Mapping[str, Source] = SYSTEMS_OF_RECORD,
    audit: MemoryAuditSink | None = None,
    report: DataQualityReport | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    systems: FakeSystems = named_customers()
    sources = Sources(
        billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr
    )
    context = new_context(
        principal,
        store,
        sources,
        "GB",
        purpose=purpose,
        interaction=interaction,
        audit=audit if audit is not None else MemoryAuditSink(),
        request_id="req-1",
        evidence=IdentityEvidence(evidence, system_of_record, fallback_order(), record_nouns()),
        data_quality=FixedReport(report) if report is not None else None,
    )
    result = await schema.execute(query, context_value=context)
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]


CONTACT = """{ customer(id: "alan") { contact {
  emails { value source isSystemOfRecord } phones { value source isSystemOfRecord } } } }"""
CONFLICTS = """{ customer(id: "alan") { conflicts {
  field values { value source isSystemOfRecord } chosen { value source } } } }"""


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


# --- the data-quality report -------------------------------------------------------------------

REPORT = DataQualityReport(
    generated_at=datetime(2026, 11, 23, 23, 0, tzinfo=UTC),
    customers=7,
    sources=(
        SourceQuality(
            source=C,
            links=7,
            standalone=1,
            awaiting_review=0,
            last_sync=LastSync(
                run_id=3,
                at=datetime(2026, 11, 23, 22, 0, tzinfo=UTC),
                outcome="succeeded",
                mode="full",
                seen=7,
                linked=7,
                failed=0,
            ),
        ),
    ),
    conflicts=(FieldCount("email", 1), FieldCount("phone", 0)),
    duplicate_candidates=1,
    unmapped_words=(UnmappedWord(S, "ticket_status", "escalated", 4),),
)
DATA_QUALITY = """{ dataQuality { customers duplicateCandidates conflicts { field customers }
  sources { source links standalone awaitingReview
            lastSync { runId outcome mode seen linked failed } }
  unmappedWords { source field word count } } }"""


@pytest.mark.parametrize("principal", [SUPERVISOR, ANALYST])
async def test_supervisors_and_analysts_read_the_data_quality_report(
    schema: strawberry.Schema,
    store: MemoryStore,
    evidence: MemoryEvidence,
    principal: Principal,
) -> None:
    data, errors = await run(schema, store, evidence, DATA_QUALITY, principal, report=REPORT)
    assert errors == []
    assert data["dataQuality"] == {
        "customers": 7,
        "duplicateCandidates": 1,
        "conflicts": [{"field": "email", "customers": 1}, {"field": "phone", "customers": 0}],
        "sources": [
            {
                "source": "CRM",
                "links": 7,
                "standalone": 1,
                "awaitingReview": 0,
                "lastSync": {
                    "runId": 3,
                    "outcome": "succeeded",
                    "mode": "full",
                    "seen": 7,
                    "linked": 7,
                    "failed": 0,
                },
            }
        ],
        "unmappedWords": [
            {"source": "SUPPORT", "field": "ticket_status", "word": "escalated", "count": 4}
        ],
    }


@pytest.mark.parametrize("principal", [AGENT, IVR])
async def test_other_roles_are_refused_the_data_quality_report(
    schema: strawberry.Schema,
    store: MemoryStore,
    evidence: MemoryEvidence,
    principal: Principal,
) -> None:
    data, errors = await run(schema, store, evidence, DATA_QUALITY, principal, report=REPORT)
    assert data is None or data == {}
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


# --- helpers -----------------------------------------------------------------------------------


def _no_sources() -> Sources:
    systems = named_customers()
    return Sources(
        billing=systems.billing, crm=systems.crm, support=systems.support, ivr=systems.ivr
    )


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


class StoreDown(MemoryEvidence):
    """Evidence whose store is unreachable, as ``app.store`` reports it."""

    async def contact_keys(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[ContactKey, ...]]:
        raise StoreUnavailable()

    async def duplicate_leads(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[DuplicateLead, ...]]:
        raise StoreUnavailable()


async def test_with_the_store_down_only_the_fields_that_need_it_are_lost(
    schema: strawberry.Schema, store: MemoryStore
) -> None:
    query = """{ customer(id: "alan") { id profile { name } billing { delinquent }
      contact { emails { value } } conflicts { field } possibleDuplicates { reason } } }"""
    data, errors = await run(schema, store, StoreDown(), query)
    alan = data["customer"]
    assert alan["profile"] == {"name": "Alan Turing"}
    assert alan["billing"] is not None
    assert (alan["contact"], alan["conflicts"], alan["possibleDuplicates"]) == (None, None, None)
    assert {tuple(e["path"]) for e in errors} == {
        ("customer", "contact"),
        ("customer", "conflicts"),
        ("customer", "possibleDuplicates"),
    }
    assert {e["extensions"]["code"] for e in errors} == {"STORE_UNAVAILABLE"}
