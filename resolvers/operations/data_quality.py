"""``Query.dataQuality``: how well the systems' records link, for supervisors and analysts.

The report is counts only (no customer, no personal value), built on demand by the app
(``app.identity.data_quality``) from the identity store, the latest sync run and this process's
taxonomies. Other roles get ``FORBIDDEN``: it says nothing about a customer, but agents
and machine clients have no use for it and it costs a scan of the identity tables.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from kernel.client_errors import Forbidden
from kernel.data_quality import (
    DataQualityReport,
    FieldCount,
    LastSync,
    SourceQuality,
    UnmappedWord,
)
from resolvers.context import RequestContext

# Registered as a GraphQL enum by ``resolvers.types.common``: importing it from there makes sure
# it is registered before these types are read (else strawberry makes a second ``Source``).
from resolvers.types.common import Source

Info = strawberry.Info[RequestContext, None]

#: Who may read the report.
READERS = frozenset({"supervisor", "analyst"})


@strawberry.type(name="LastSync", description="One source's part of the latest identity sync.")
class LastSyncType:
    run_id: int
    at: datetime = strawberry.field(description="When it finished, or started if still running.")
    outcome: str = strawberry.field(description="running, succeeded or failed.")
    mode: str = strawberry.field(description="full or incremental.")
    seen: int = strawberry.field(description="Records of this source the run read.")
    linked: int = strawberry.field(
        description="Records it linked for the first time (to an existing or a new customer)."
    )
    failed: int = strawberry.field(
        description="Records it counted as failed. The sync stores each page whole or fails "
        "the run, so a failure shows in `outcome` (the run's, for every source)."
    )

    @classmethod
    def of(cls, found: LastSync) -> LastSyncType:
        return cls(
            run_id=found.run_id,
            at=found.at,
            outcome=found.outcome,
            mode=found.mode,
            seen=found.seen,
            linked=found.linked,
            failed=found.failed,
        )


@strawberry.type(name="SourceQuality", description="How one system's records link.")
class SourceQualityType:
    source: Source
    links: int = strawberry.field(description="Records of this system linked to a customer.")
    standalone: int = strawberry.field(
        description="Records that are their customer's only link: no other system's record "
        "joined them (for CRM: contacts no other system knows)."
    )
    awaiting_review: int = strawberry.field(
        description="Records the linking rules could not link on their own (ambiguous, or "
        "rules disagreeing), left for a person. Records that link to no customer at all "
        "cannot be counted: every record a sync reads is linked, to a customer of its own "
        "when no rule finds one, and records no sync has read are unknown to the gateway."
    )
    last_sync: LastSyncType | None = strawberry.field(
        description="This system in the latest sync run; null before the first."
    )
    orphans: int | None = strawberry.field(
        description="Records that match no customer of another system (each a customer of "
        "its own); null for a system whose records anchor customers (CRM contacts)."
    )
    orphans_label: str | None = strawberry.field(
        description="How the report names them, by the system's records: `orphan billing "
        "customers`; null with `orphans`."
    )

    @classmethod
    def of(cls, found: SourceQuality) -> SourceQualityType:
        return cls(
            source=found.source,
            links=found.links,
            standalone=found.standalone,
            awaiting_review=found.awaiting_review,
            last_sync=LastSyncType.of(found.last_sync) if found.last_sync else None,
            orphans=found.orphans,
            orphans_label=found.orphans_label,
        )


@strawberry.type(name="FieldConflictCount", description="Customers whose records disagree.")
class FieldConflictCountType:
    field: str = strawberry.field(description="`email` or `phone`.")
    customers: int

    @classmethod
    def of(cls, found: FieldCount) -> FieldConflictCountType:
        return cls(field=found.field, customers=found.customers)


@strawberry.type(name="UnmappedWord", description="A vendor status word with no mapping.")
class UnmappedWordType:
    source: Source
    field: str = strawberry.field(description="The taxonomy: `ticket_status`, ...")
    word: str = strawberry.field(description="The vendor's own word.")
    count: int = strawberry.field(description="Times this gateway process met it.")

    @classmethod
    def of(cls, found: UnmappedWord) -> UnmappedWordType:
        return cls(source=found.source, field=found.field, word=found.word, count=found.count)


@strawberry.type(name="DataQualityReport", description="How well the systems' records link.")
class DataQualityReportType:
    generated_at: datetime
    customers: int = strawberry.field(description="Customers in the identity store.")
    sources: list[SourceQualityType]
    conflicts: list[FieldConflictCountType] = strawberry.field(
        description="Customers whose linked records disagree, by field (after normalisation)."
    )
    duplicate_candidates: int = strawberry.field(
        description="Pairs of customers that may be one person (sharing an email or phone, or "
        "named together by a linking rule), not decided otherwise by a supervisor."
    )
    unmapped_words: list[UnmappedWordType] = strawberry.field(
        description="Vendor status words with no canonical mapping, met by the gateway "
        "process that answers (each process counts its own)."
    )

    @classmethod
    def of(cls, report: DataQualityReport) -> DataQualityReportType:
        return cls(
            generated_at=report.generated_at,
            customers=report.customers,
            sources=[SourceQualityType.of(found) for found in report.sources],
            conflicts=[FieldConflictCountType.of(found) for found in report.conflicts],
            duplicate_candidates=report.duplicate_candidates,
            unmapped_words=[UnmappedWordType.of(found) for found in report.unmapped_words],
        )


async def data_quality(info: Info) -> DataQualityReportType:
    """The report, for supervisors and analysts only."""
    context = info.context
    if context.principal.role not in READERS:
        raise Forbidden(f"the {context.principal.role} role may not read the data-quality report")
    if context.data_quality is None:
        # A wiring defect, not the client's fault: masked as an internal error.
        raise RuntimeError("the data-quality report is not wired into this request's context")
    return DataQualityReportType.of(await context.data_quality.data_quality_report())
