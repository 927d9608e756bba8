"""What the tests of the identity view share: its customers and principals, their evidence in
memory, a fixed data-quality report, and a query run as a principal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import strawberry

from adapters.registry import fallback_order, record_nouns
from kernel.access import ActiveInteraction, Principal
from kernel.data_quality import DataQualityReport
from kernel.identity import CustomerId
from kernel.identity_evidence import ContactKey, DuplicateLead, IdentityEvidence
from kernel.models import Source
from resolvers.context import Sources, new_context
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
    sources = Sources.from_adapters(systems.by_source)
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
