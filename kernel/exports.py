"""Analysts' exports, as every layer speaks of them: formats, states, columns, jobs.

A filter can select far more customers than a page can hold; an export runs it in the
background over the ``customer_facts`` read model, and the file is fetched once it is done.
``ExportJobs`` is the port the graph's resolvers call (``resolvers.operations.exports``) and
the app implements (``app.exports.jobs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Protocol

from kernel.access import Principal
from kernel.client_errors import BadUserInput, GatewayError
from kernel.customer_facts import CustomerFilter

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


#: A column of an export, by its name in the file (the GraphQL field name it mirrors): one of
#: ``ExportField``, or a fact a registered source declares (``kernel.source_facts``).
ExportColumn = str


class ExportField(StrEnum):
    """The read model's own columns of an export (a source's declared facts are others).

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


@dataclass(frozen=True, slots=True)
class ExportJobView:
    """An export job as its owner may see it (never its filter's values or its output)."""

    id: str
    owner: str
    state: ExportState
    export_format: ExportFormat
    fields: tuple[ExportColumn, ...]
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
        fields: Sequence[ExportColumn],
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


def checked_fields(fields: Sequence[ExportColumn]) -> tuple[ExportColumn, ...]:
    """The columns in the order asked, or ``BadUserInput`` for none or a repeated one."""
    if not fields:
        raise BadUserInput("fields must name at least one column")
    if len(set(fields)) != len(fields):
        raise BadUserInput("fields must not repeat a column")
    return tuple(fields)
