"""The data-quality report in the graph: who may read it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import strawberry

from kernel.access import Principal
from kernel.data_quality import DataQualityReport, FieldCount, LastSync, SourceQuality, UnmappedWord
from tests.resolvers.identity_view.identity_view_kit import (
    AGENT,
    ANALYST,
    IVR,
    SUPERVISOR,
    C,
    MemoryEvidence,
    S,
    run,
)
from tests.resolvers.memory_store import MemoryStore

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
