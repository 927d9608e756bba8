"""``GET /exports/{id}``: a finished export's file, streamed as it is stored.

Bearer token as for ``/graphql``; the owner of the export or a supervisor (the rule of
``exportStatus``). Answers: 200 with the NDJSON or CSV (personal columns were masked when
the file was written, see ``app.exports.format``); 401 without a valid token; 403 for a role
that may not export; 404 for an unknown export and for someone else's (the same answer, so
that ids cannot be probed); 409 ``EXPORT_NOT_FINISHED`` while it is queued or running and
``EXPORT_FAILED`` when it failed; 503 ``AUDIT_UNAVAILABLE`` when the read could not be put on
the audit trail (nothing is served unrecorded). Errors are shaped as GraphQL shapes its own.

Each download appends one ``READ`` entry to the audit trail before the first byte goes out:
who, the export's id and row count, and the schema coordinates of the personal columns
(``Customer.displayName``), never a value. The chunks are read a page at a time, so a
large file is never held in memory and no transaction stays open while a slow client reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from app.exports.format import content_type, personal_coordinates
from app.exports.jobs import Exports
from app.exports.metrics import ExportMetrics
from app.http.responses import authenticate, error_response
from app.http.state import GatewayState
from app.observability.middleware import current_request
from app.store.exports import ExportStore
from app.tenancy.selection import choose_tenant, refusal_status
from kernel.access import AuditEntry, AuditSink, AuditUnavailable
from kernel.exports import EXPORT_ROLES, ExportFormat, ExportJobView, ExportState, may_read
from kernel.tenancy import TenantForbidden, TenantRequired
from resolvers.tenant_boundary import Asker, audit_crossing_of

__all__ = ["ExportDownloads", "get_export_file"]

#: Chunks read from the store at a time (each is one batch of rows, a few hundred KB at most).
CHUNKS_PER_READ = 8


class ExportDownloads:
    """What the endpoint needs, built once in the lifespan: jobs, their chunks, the audit."""

    def __init__(
        self, exports: Exports, store: ExportStore, audit: AuditSink, metrics: ExportMetrics
    ) -> None:
        self.exports = exports
        self.store = store
        self.audit = audit
        self.metrics = metrics

    async def chunks(self, export_id: str) -> AsyncIterator[bytes]:
        """The file's chunks in order, read a few at a time."""
        after = -1
        while True:
            page = await self.store.chunks(export_id, after, CHUNKS_PER_READ)
            for seq, body in page:
                after = seq
                yield body.encode()
            if len(page) < CHUNKS_PER_READ:
                return


def _read_entry(request: Request, job: ExportJobView, subject: str, role: str) -> AuditEntry:
    personal = personal_coordinates(job.fields)
    record = current_request.get()
    return AuditEntry(
        kind="READ",
        subject=subject,
        role=role,
        outcome="masked" if personal else "served",
        fields=personal,
        masked=bool(personal),
        request_id=record.request_id if record is not None else None,
        client_address=request.client.host if request.client is not None else None,
        detail=f"export {job.id}: {job.rows_done} rows",
    )


async def get_export_file(request: Request) -> Response:
    """GET /exports/{export_id}."""
    state: GatewayState = request.state.gateway
    downloads: ExportDownloads = request.state.export_downloads
    principal = await authenticate(request, state.verifier)
    if isinstance(principal, Response):
        return principal
    try:
        tenant = choose_tenant(principal, request.headers.get(state.tenancy.header), state.tenancy)
    except (TenantRequired, TenantForbidden) as exc:
        return error_response(refusal_status(exc), exc.code, exc.message)
    scoped = state.for_tenant(tenant)
    # The downloads' own jobs service is the default tenant's: only for that tenant's state.
    exports = scoped.exports or (downloads.exports if scoped is state else None)
    if principal.role not in EXPORT_ROLES:
        downloads.metrics.downloads.labels("forbidden").inc()
        return error_response(403, "FORBIDDEN", f"the {principal.role} role may not read exports")
    # The request's tenant's jobs only: another tenant's job is as unknown as a missing one.
    job = await exports.get_export(request.path_params["export_id"]) if exports else None
    if job is None:
        # Another tenant's job: the attempt goes on its trail (the answer is a missing one's).
        record = current_request.get()
        asker = Asker(
            principal,
            tenant,
            record.request_id if record is not None else None,
            request.client.host if request.client is not None else None,
        )
        await audit_crossing_of(
            asker, scoped.boundary, downloads.audit, "export", request.path_params["export_id"]
        )
    if job is None or not may_read(principal, job):
        downloads.metrics.downloads.labels("not_found").inc()
        return error_response(404, "NOT_FOUND", "no such export")
    if job.state is not ExportState.SUCCEEDED:
        downloads.metrics.downloads.labels("not_finished").inc()
        if job.state is ExportState.FAILED:
            return error_response(
                409, "EXPORT_FAILED", "the export failed; see exportStatus for why"
            )
        return error_response(
            409, "EXPORT_NOT_FINISHED", f"the export is {job.state.value}; try later"
        )
    try:
        await downloads.audit.record([_read_entry(request, job, principal.subject, principal.role)])
    except AuditUnavailable:
        downloads.metrics.downloads.labels("audit_unavailable").inc()
        return error_response(503, "AUDIT_UNAVAILABLE", "the read could not be audited; try again")
    downloads.metrics.downloads.labels("served").inc()
    extension = "csv" if job.export_format is ExportFormat.CSV else "ndjson"
    return StreamingResponse(
        downloads.chunks(job.id),
        media_type=content_type(job.export_format),
        headers={
            "Content-Disposition": f'attachment; filename="export-{job.id}.{extension}"',
            "Cache-Control": "no-store",
        },
    )
