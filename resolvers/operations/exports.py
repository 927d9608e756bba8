"""Analysts' exports in the graph: ``startExport`` queues a job, ``exportStatus`` reads it.

A filter can select far more customers than a page can hold; an export runs it in the
background, over the ``customer_facts`` read model (never an upstream call), and the file is
fetched from ``GET /exports/{id}`` once it is done. The jobs themselves are the app's
(``app.exports.jobs``): these resolvers check who asks, call the ``ExportJobs`` Protocol and shape
its answers. Personal fields (``DISPLAY_NAME``) are masked in every export, as the analyst's
GraphQL answers are, whoever starts it: a bulk file is no place for a caller's full name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

import strawberry

from kernel.access import Principal
from kernel.client_errors import BadUserInput, Forbidden, GatewayError
from kernel.customer_facts import CustomerFilter
from resolvers.operations.customers import CustomerFilterInput
from resolvers.types.common import Info

#: Roles that may export: analysts, and supervisors (who may also read anyone's export).
EXPORT_ROLES = frozenset({"analyst", "supervisor"})
#: The role that may read every export, not only its own.
SUPERVISOR_ROLE = "supervisor"


class ExportFormat(Enum):
    """How the export's rows are written."""

    NDJSON = "NDJSON"
    CSV = "CSV"


class ExportState(Enum):
    """Where an export job is: waiting, being written, or done one way or the other."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ExportField(Enum):
    """A column of an export: one fact of the ``customer_facts`` read model.

    The value is the column's name in the file (the GraphQL field name it mirrors).
    """

    CUSTOMER_ID = "customerId"
    DISPLAY_NAME = "displayName"
    CREATED_AT = "createdAt"
    LINKED_SOURCES = "linkedSources"
    BALANCE = "balance"
    CURRENCY = "currency"
    DELINQUENT = "delinquent"
    SUBSCRIPTION_STATUS = "subscriptionStatus"
    OPEN_TICKET_COUNT = "openTicketCount"
    LAST_TICKET_AT = "lastTicketAt"
    LAST_CONTACT_AT = "lastContactAt"
    COUNTRY = "country"
    BILLING_TAKEN_AT = "billingTakenAt"
    SUPPORT_TAKEN_AT = "supportTakenAt"
    CRM_TAKEN_AT = "crmTakenAt"


strawberry.enum(ExportFormat, description="How an export's rows are written.")
strawberry.enum(ExportState, description="Where an export job is in its life.")
strawberry.enum(
    ExportField,
    description="A column of an export (a fact of the read model); DISPLAY_NAME is masked.",
)


@dataclass(frozen=True, slots=True)
class ExportJobView:
    """An export job as its owner may see it (never its filter's values or its output)."""

    id: str
    owner: str
    state: ExportState
    export_format: ExportFormat
    fields: tuple[ExportField, ...]
    rows_done: int
    total_rows: int | None
    created_at: datetime
    finished_at: datetime | None
    error: str | None


class ExportLimitReached(GatewayError):
    """The principal already has as many exports waiting or running as one may."""

    code = "EXPORT_LIMIT_REACHED"


class ExportJobs(Protocol):
    """Starts export jobs and reads them back; ``app.exports.jobs.Exports`` implements it."""

    async def start_export(
        self,
        owner: Principal,
        customer_filter: CustomerFilter,
        fields: Sequence[ExportField],
        export_format: ExportFormat,
    ) -> ExportJobView:
        """Queue a job for ``owner``; ``ExportLimitReached`` when they have too many under way."""
        ...

    async def get_export(self, export_id: str) -> ExportJobView | None:
        """The job with this id, or None when there is none (or the id is not one of ours)."""
        ...


def may_read(principal: Principal, job: ExportJobView) -> bool:
    """The owner rule of ``exportStatus`` and ``GET /exports/{id}``: the owner, or a supervisor.

    The owner must still hold an export role: a subject whose role changed reads nothing.
    """
    if principal.role == SUPERVISOR_ROLE:
        return True
    return principal.role in EXPORT_ROLES and principal.subject == job.owner


def checked_fields(fields: Sequence[ExportField]) -> tuple[ExportField, ...]:
    """The columns in the order asked, or ``BadUserInput`` for none or a repeated one."""
    if not fields:
        raise BadUserInput("fields must name at least one column")
    if len(set(fields)) != len(fields):
        raise BadUserInput("fields must not repeat a column")
    return tuple(fields)


# --- GraphQL types ------------------------------------------------------------------------


@strawberry.type(description="An export of many customers' facts, and how far it has got.")
class ExportJob:
    id: strawberry.ID
    state: ExportState
    format: ExportFormat
    fields: list[ExportField]
    rows_done: int = strawberry.field(description="Rows written so far.")
    total_rows: int | None = strawberry.field(
        description="Rows the filter selected when the job started (null until then); once it "
        "succeeds, the rows written."
    )
    created_at: datetime
    finished_at: datetime | None
    error: str | None = strawberry.field(description="Why it failed, when it did.")
    download_path: str = strawberry.field(
        description="Where the file is fetched once SUCCEEDED (GET, same bearer token)."
    )

    @classmethod
    def from_view(cls, view: ExportJobView) -> ExportJob:
        return cls(
            id=strawberry.ID(view.id),
            state=view.state,
            format=view.export_format,
            fields=list(view.fields),
            rows_done=view.rows_done,
            total_rows=view.total_rows,
            created_at=view.created_at,
            finished_at=view.finished_at,
            error=view.error,
            download_path=f"/exports/{view.id}",
        )


# --- resolvers ----------------------------------------------------------------------------


def _jobs(info: Info) -> ExportJobs:
    context = info.context
    if context.principal.role not in EXPORT_ROLES:
        raise Forbidden(f"the {context.principal.role} role may not export customers")
    if context.exports is None:
        raise GatewayError("exports are not available")
    return context.exports


async def export_status(info: Info, id: strawberry.ID) -> ExportJob | None:
    """``Query.exportStatus``: null for an unknown job and for someone else's (not a supervisor).

    The same answer for both, so that an id cannot be probed for whether it exists.
    """
    jobs = _jobs(info)
    view = await jobs.get_export(str(id))
    if view is None or not may_read(info.context.principal, view):
        return None
    return ExportJob.from_view(view)


async def start_export_for(
    info: Info,
    customer_filter: CustomerFilter,
    fields: Sequence[ExportField],
    export_format: ExportFormat,
) -> ExportJob:
    """``Mutation.startExport`` once the filter is in the read model's vocabulary."""
    jobs = _jobs(info)
    view = await jobs.start_export(
        info.context.principal, customer_filter, checked_fields(fields), export_format
    )
    return ExportJob.from_view(view)


@strawberry.type
class ExportMutation:
    @strawberry.mutation(
        description="Export the facts of every customer the filter selects (analysts, "
        "supervisors): a job runs in the background; follow it with exportStatus and fetch "
        "the file from its downloadPath once SUCCEEDED. DISPLAY_NAME is masked."
    )
    async def start_export(
        self,
        info: Info,
        fields: list[ExportField],
        format: ExportFormat = ExportFormat.NDJSON,
        filter: CustomerFilterInput | None = None,
    ) -> ExportJob:
        selection = filter.to_filter() if filter is not None else CustomerFilter()
        return await start_export_for(info, selection, fields, format)
