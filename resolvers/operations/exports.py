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
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, cast

import strawberry

from kernel.client_errors import Forbidden, GatewayError
from kernel.customer_facts import CustomerFilter
from kernel.exports import (
    EXPORT_ROLES,
    ExportField,
    ExportFormat,
    ExportJobs,
    ExportJobView,
    ExportState,
    checked_fields,
    may_read,
)
from kernel.source_facts import taken_at_column
from resolvers.operations.customers import CustomerFilterInput
from resolvers.tenant_boundary import audit_crossing
from resolvers.types.common import Info
from resolvers.types.facts import DECLARED, Declared

strawberry.enum(ExportFormat, description="How an export's rows are written.")
strawberry.enum(ExportState, description="Where an export job is in its life.")


def export_columns(declared: Declared) -> type[Enum]:
    """The columns an export may have: the read model's own (``ExportField``), then each
    fact the sources declare (``ORDER_COUNT``: ``orderCount``) and when they were taken
    (``ORDERS_TAKEN_AT``), named as the graph names them."""
    members = {field.name: field.value for field in ExportField}
    for source, spec in declared:
        for fact in spec.facts:
            members[fact.name.upper()] = fact.column
        members[f"{source.value}_TAKEN_AT"] = taken_at_column(source)
    # The functional API: mypy cannot follow members that are data.
    return cast(type[Enum], Enum("ExportField", members))


# mypy sees the read model's own columns; the graph, every column (made from the registry's
# declarations, so a source's facts are columns without a member written here).
if TYPE_CHECKING:
    ExportColumnEnum = ExportField
else:
    ExportColumnEnum = strawberry.enum(
        export_columns(DECLARED),
        name="ExportField",
        description="A column of an export (a fact of the read model); DISPLAY_NAME is masked.",
    )


# --- GraphQL types ------------------------------------------------------------------------


@strawberry.type(description="An export of many customers' facts, and how far it has got.")
class ExportJob:
    id: strawberry.ID
    state: ExportState
    format: ExportFormat
    fields: list[ExportColumnEnum]
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
            fields=[ExportColumnEnum(name) for name in view.fields],
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
    if view is None:
        # Another tenant's job is answered as missing; the attempt goes on its trail.
        await audit_crossing(info.context, "export", str(id))
        return None
    if not may_read(info.context.principal, view):
        return None
    return ExportJob.from_view(view)


async def start_export_for(
    info: Info,
    customer_filter: CustomerFilter,
    fields: Sequence[ExportColumnEnum],
    export_format: ExportFormat,
) -> ExportJob:
    """``Mutation.startExport`` once the filter is in the read model's vocabulary."""
    jobs = _jobs(info)
    view = await jobs.start_export(
        info.context.principal,
        customer_filter,
        checked_fields([field.value for field in fields]),
        export_format,
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
        fields: list[ExportColumnEnum],
        format: ExportFormat = ExportFormat.NDJSON,
        filter: CustomerFilterInput | None = None,
    ) -> ExportJob:
        selection = filter.to_filter() if filter is not None else CustomerFilter()
        return await start_export_for(info, selection, fields, format)
