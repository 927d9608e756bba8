"""The audit trail in the graph: written once per request, read back by supervisors.

``RecordDisclosures`` runs last around every operation: from the request's disclosure ledger
it makes one ``READ`` entry per customer the response carries data about (the personal
fields served, masked or not, and those withheld; never a value), plus a ``PURPOSE`` entry
when a supervisor stated one, and appends them to the ``AuditSink`` in one batch before the
response leaves. If that fails, every personal value is withdrawn from the response (null,
``AUDIT_UNAVAILABLE``) while the rest is served: no read of personal data goes unrecorded.

``auditTrail(customerId, first, after)`` pages through one customer's trail, newest first,
for supervisors only.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult as StrawberryResult
from strawberry.types import StreamExecutionResult

from kernel.access import AuditEntry, AuditTrailPage, RecordedAuditEntry
from kernel.client_errors import BadUserInput, Forbidden, GatewayError, PersonalDataWithheld
from kernel.disclosure import CustomerDisclosure, DisclosureLedger, ResponsePath
from kernel.identity import CustomerId
from resolvers.context import RequestContext

logger = logging.getLogger(__name__)

#: Entries per page of ``auditTrail`` when ``first`` is not given, and at most.
DEFAULT_PAGE = 20
MAX_PAGE = 100

_CURSOR_PREFIX = "audit:"


# --- writing -------------------------------------------------------------------------------


def audit_entries(context: RequestContext) -> list[AuditEntry]:
    """The entries a request's ledger calls for: one ``READ`` per customer, and purposes."""
    entries: list[AuditEntry] = []
    principal = context.principal
    interaction = context.interaction
    for customer_id, disclosure in context.disclosures.customers():
        common: dict[str, Any] = {
            "subject": principal.subject,
            "role": principal.role,
            "customer_id": customer_id,
            "interaction_id": interaction.interaction_id if interaction else None,
            "request_id": context.request_id,
            "purpose": context.purpose,
            "client_address": context.client_address,
            "tenant": context.tenant,
        }
        entries.append(
            AuditEntry(
                kind="READ",
                outcome=_outcome(disclosure),
                fields=tuple(sorted(disclosure.unmasked | disclosure.masked)),
                masked=bool(disclosure.masked) and not disclosure.unmasked,
                detail=_withheld_detail(disclosure),
                **common,
            )
        )
        if context.purpose:
            entries.append(AuditEntry(kind="PURPOSE", outcome="stated", **common))
    return entries


def _outcome(disclosure: CustomerDisclosure) -> str:
    # The most revealing thing that happened: a customer whose name went out unmasked and
    # whose email was withheld was "served".
    if disclosure.unmasked:
        return "served"
    if disclosure.masked:
        return "masked"
    if disclosure.withheld:
        return "denied"
    return "served"


def _withheld_detail(disclosure: CustomerDisclosure) -> str | None:
    if not disclosure.withheld:
        return None
    parts = [
        f"{coordinate} (needs {needed.name})" if needed is not None else f"{coordinate} (role)"
        for coordinate, needed in sorted(disclosure.withheld.items())
    ]
    return "withheld: " + ", ".join(parts)


def withdraw_personal_values(
    result: ExecutionResult | StrawberryResult,
    paths: Sequence[ResponsePath],
    *,
    presented: bool = False,
) -> None:
    """Null every value at ``paths`` in ``result`` and say why, one error per path.

    ``presented``: the errors carry their code already (a streamed result, which leaves
    before the app's error presentation could see what is added here)."""
    errors = list(result.errors or [])
    for path in paths:
        if _null_at(result.data, path):
            withheld = PersonalDataWithheld(
                "personal data withheld: the audit trail is unavailable"
            )
            errors.append(
                GraphQLError(
                    withheld.message,
                    path=list(path),
                    original_error=None if presented else withheld,
                    extensions=withheld.extensions() if presented else None,
                )
            )
    result.errors = errors or None


def _null_at(data: Any, path: ResponsePath) -> bool:
    """Set ``data`` at ``path`` to None; False if the path is gone (a parent was nulled)."""
    node = data
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
        if node is None:
            return False
    last = path[-1]
    try:
        node[last] = None
    except (KeyError, IndexError, TypeError):
        return False
    return True


class RecordDisclosures(SchemaExtension):
    """Appends the request's audit entries before the response leaves; fails closed.

    Must run inside ``PresentErrors`` (``build_schema`` puts it last), so that the errors
    it adds are presented with their code like any other.
    """

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        await self._record(self.execution_context.result, presented=False)

    async def on_stream_result(self, result: StreamExecutionResult) -> AsyncIterator[None]:
        """Each result a subscription streams is a response of its own: audited before it
        leaves, and the ledger emptied for the next (then ``on_operation`` finds nothing)."""
        await self._record(result, presented=True)
        ledger = getattr(self.execution_context.context, "disclosures", None)
        if isinstance(ledger, DisclosureLedger):
            ledger.reset()
        yield

    async def _record(self, result: object, *, presented: bool) -> None:
        context = self.execution_context.context
        ledger = getattr(context, "disclosures", None)
        # graphql-core's result for a query, strawberry's for each streamed one.
        if not isinstance(ledger, DisclosureLedger) or not isinstance(
            result, ExecutionResult | StrawberryResult
        ):
            return
        sink = context.audit
        if sink is None:
            # Resolver unit tests only: the app always hands in a sink.
            return
        entries = audit_entries(context)
        if not entries:
            return
        try:
            await sink.record(entries)
        except Exception as exc:
            # Never the entries themselves in the log: they name customers and fields.
            logger.error(
                "audit trail not written; personal fields withheld",
                extra={"error_type": type(exc).__name__, "entries": len(entries)},
            )
            withdraw_personal_values(
                result, context.disclosures.served_paths(), presented=presented
            )


# --- reading -------------------------------------------------------------------------------


@strawberry.type(description="One line of the audit trail: who read or did what, never values.")
class AuditEvent:
    cursor: str
    at: datetime | None
    kind: str = strawberry.field(
        description="READ, or an interaction step: HANDOFF, CLAIM, TRANSFER, END, VERIFY, "
        "PURPOSE, LINK_CHANGE; or WRITE, a write to a system of record (detail: the mutation; "
        "fields: the input fields written; outcome: ACCEPTED, APPLIED, FAILED or REFUSED)."
    )
    outcome: str = strawberry.field(description="served, masked, denied, or the step's result.")
    subject: str = strawberry.field(description="The principal (token subject).")
    role: str
    interaction_id: strawberry.ID | None
    request_id: str | None
    fields: list[str] = strawberry.field(description="Personal fields served (`Profile.email`).")
    masked: bool = strawberry.field(description="Whether the fields served were masked.")
    purpose: str | None
    client_address: str | None
    detail: str | None

    @classmethod
    def from_recorded(cls, recorded: RecordedAuditEntry) -> AuditEvent:
        entry = recorded.entry
        return cls(
            cursor=encode_cursor(recorded.id),
            at=entry.at,
            kind=entry.kind,
            outcome=entry.outcome,
            subject=entry.subject,
            role=entry.role,
            interaction_id=(
                strawberry.ID(entry.interaction_id) if entry.interaction_id is not None else None
            ),
            request_id=entry.request_id,
            fields=list(entry.fields),
            masked=entry.masked,
            purpose=entry.purpose,
            client_address=entry.client_address,
            detail=entry.detail,
        )


@strawberry.type(description="A page of one customer's audit trail, newest first.")
class AuditTrailConnection:
    events: list[AuditEvent]
    end_cursor: str | None = strawberry.field(description="Pass as `after` for older events.")
    has_next_page: bool


def encode_cursor(entry_id: int) -> str:
    """An opaque cursor for the entry with ``entry_id``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{entry_id}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    """The entry id of a cursor from ``encode_cursor``; ``BadUserInput`` for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
    except (UnicodeError, binascii.Error, ValueError):
        text = ""
    prefix, _, number = text.partition(":")
    if f"{prefix}:" != _CURSOR_PREFIX or not number.isdecimal() or not number.isascii():
        raise BadUserInput("after is not a cursor from auditTrail")
    return int(number)


async def audit_trail(
    info: strawberry.Info,
    customer_id: strawberry.ID,
    first: int | None = DEFAULT_PAGE,
    after: str | None = None,
) -> AuditTrailConnection | None:
    """One customer's audit trail, newest first (supervisors only)."""
    context: RequestContext = info.context
    if context.principal.role != "supervisor":
        raise Forbidden("auditTrail is for supervisors only")
    limit = DEFAULT_PAGE if first is None else first
    if not 1 <= limit <= MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}, got {limit}")
    before_id = decode_cursor(after) if after is not None else None
    reader = context.audit_trail
    if reader is None:
        raise GatewayError("the audit trail is not available")
    owner = CustomerId(str(customer_id))
    page: AuditTrailPage = await reader.read_audit_trail(owner, limit, before_id)
    # Reading the trail is itself a read about the customer, and on the trail.
    context.disclosures.touch(owner)
    events = [AuditEvent.from_recorded(recorded) for recorded in page.entries]
    return AuditTrailConnection(
        events=events,
        end_cursor=events[-1].cursor if events else None,
        has_next_page=page.has_more,
    )
