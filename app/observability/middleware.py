"""Request ids, the access log, upstream health and metrics for every request.

``ObservabilityMiddleware`` (pure ASGI, so the request runs in its own task and context)
gives each request an id, returns it as ``X-Request-Id`` and sends it upstream through
``adapters.http.context.outbound_headers``. It installs an
``adapters.http.context.upstream_observer`` that
feeds the metrics, each source's ``SourceHealth`` window and the request's own
``RequestRecord``; for ``/graphql`` it then writes one ``app.access`` log line and counts
the request. The ``ObserveOperation`` extension tells the record the operation name and
the error codes of the answer; ``AuthenticatedGraphQL`` tells it the role.

Traces: the middleware also joins the client's W3C trace (``traceparent``), or starts one,
and sends upstream a ``traceparent`` with the same trace id and a span id of its own, so a
tracing backend (or a grep) links the gateway's log line to each system's.

The access log holds ids, names, codes, counts and times: never the query text, the
variables or the answer, which carry personal data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from adapters.http.context import (
    ABORTED,
    Deadline,
    RequestFailures,
    outbound_headers,
    request_deadline,
    request_failures,
    upstream_observer,
)
from app.observability.health import SourceHealth
from app.observability.operations import OPERATION_NAME
from app.observability.trace_context import (
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
    parse_traceparent,
    request_id_from,
    trace_context_from,
)
from app.observability.tracing import RequestSpan, RequestTracer, TraceParent
from kernel.models import Source

__all__ = [
    "ObservabilityMiddleware",
    "ObserveOperation",
    "RequestMetrics",
    "RequestRecord",
    "SourceTally",
    "current_request",
]

access_logger = logging.getLogger("app.access")

# --- one request ---------------------------------------------------------------------------


@dataclass(slots=True)
class SourceTally:
    """One source's upstream requests within one gateway request."""

    count: int = 0
    total_ms: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def as_log(self) -> dict[str, Any]:
        """The tally as the access log writes it."""
        entry: dict[str, Any] = {"count": self.count, "total_ms": round(self.total_ms, 1)}
        if self.errors:
            entry["errors"] = dict(self.errors)
        return entry


@dataclass(slots=True)
class RequestRecord:
    """What is known about the request under way, filled in by whoever learns it."""

    request_id: str
    trace_id: str | None = None
    operation: str | None = None
    role: str | None = None
    #: The tenant the request acts for (``platform`` for an operator's naming none).
    tenant: str | None = None
    error_codes: list[str] = field(default_factory=list)
    upstream: dict[Source, SourceTally] = field(default_factory=dict)

    def note_upstream(self, source: Source, seconds: float, error_code: str | None) -> None:
        """Add one upstream request to its source's tally."""
        tally = self.upstream.setdefault(source, SourceTally())
        tally.count += 1
        tally.total_ms += seconds * 1000
        if error_code is not None:
            tally.errors[error_code] = tally.errors.get(error_code, 0) + 1


#: The record of the request under way; None outside a request.
current_request: ContextVar[RequestRecord | None] = ContextVar("current_request", default=None)


# --- the middleware ------------------------------------------------------------------------


class RequestMetrics(Protocol):
    """What the middleware counts (``app.wiring.metrics.GatewayMetrics`` is it)."""

    def observe_upstream(self, source: Source, seconds: float, error_code: str | None) -> None:
        """Count one upstream request and its time."""
        ...

    def observe_graphql(
        self,
        operation: str | None,
        role: str,
        outcome: str,
        seconds: float,
        tenant: str | None = None,
    ) -> None:
        """Count one GraphQL request and its time (and its tenant's)."""
        ...


class ObservabilityMiddleware:
    """Request id in and out, trace context, upstream observation, and the access log.

    Every upstream request made for one incoming request carries the same ``traceparent``:
    the client's trace id and one span id that the gateway draws for the request. With
    ``tracer`` (OpenTelemetry, ``app.observability.tracing``), that span id is the request span's,
    and each
    upstream call is recorded as a span of its own under it.

    ``deadline_seconds`` starts the request's deadline (``adapters.http.context.request_deadline``)
    as it arrives, so that time spent before the first upstream call counts against it too.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: RequestMetrics,
        health: Mapping[Source, SourceHealth],
        graphql_path: str = "/graphql",
        deadline_seconds: float | None = None,
        tracer: RequestTracer | None = None,
    ) -> None:
        self._app = app
        self._metrics = metrics
        self._health = health
        self._graphql_path = graphql_path
        self._deadline_seconds = deadline_seconds
        self._tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        header = _header(scope, b"x-request-id")
        traceparent_header = _header(scope, b"traceparent")
        trace = trace_context_from(traceparent_header)
        record = RequestRecord(request_id=request_id_from(header), trace_id=trace.trace_id)
        span = self._start_span(scope, traceparent_header, record)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = record.request_id
            await send(message)

        record_token = current_request.set(record)
        headers_token = outbound_headers.set(
            {
                **(outbound_headers.get() or {}),
                REQUEST_ID_HEADER: record.request_id,
                TRACEPARENT_HEADER: (
                    trace.child_traceparent() if span is None else span.traceparent()
                ),
            }
        )
        observer_token = upstream_observer.set(self._observer(record, span))
        deadline = (
            None if self._deadline_seconds is None else Deadline.after(self._deadline_seconds)
        )
        deadline_token = request_deadline.set(deadline)
        failures_token = request_failures.set(RequestFailures())
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            # Answered: whatever the request left running starts nothing more.
            if deadline is not None:
                deadline.expire()
            request_failures.reset(failures_token)
            request_deadline.reset(deadline_token)
            upstream_observer.reset(observer_token)
            outbound_headers.reset(headers_token)
            current_request.reset(record_token)
            if scope.get("path") == self._graphql_path:
                self._finish(record, status, time.perf_counter() - started)
            if span is not None:
                span.finish(
                    status=status,
                    operation=record.operation,
                    role=record.role,
                    error_codes=record.error_codes,
                )

    def _start_span(
        self, scope: Scope, traceparent_header: str | None, record: RequestRecord
    ) -> RequestSpan | None:
        """The request's OpenTelemetry span, when tracing is on; the log's trace id follows it."""
        if self._tracer is None:
            return None
        client = parse_traceparent(traceparent_header)
        parent = (
            None if client is None else TraceParent(client.trace_id, client.parent_id, client.flags)
        )
        span = self._tracer.start_request(
            parent,
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            request_id=record.request_id,
        )
        record.trace_id = span.traceparent().split("-")[1]
        return span

    def _observer(
        self, record: RequestRecord, span: RequestSpan | None
    ) -> Callable[[Source, float, str | None], None]:
        def observe(source: Source, seconds: float, error_code: str | None) -> None:
            if span is not None:
                span.upstream_call(source, seconds, error_code)
            record.note_upstream(source, seconds, error_code)
            self._metrics.observe_upstream(source, seconds, error_code)
            health = self._health.get(source)
            # A call we cancelled (a deadline, a sibling's failure) says nothing of the source.
            if health is not None and error_code != ABORTED:
                health.record(error_code is None)

        return observe

    def _finish(self, record: RequestRecord, status: int, seconds: float) -> None:
        role = record.role or "none"
        self._metrics.observe_graphql(
            record.operation, role, _outcome(status, record), seconds, tenant=record.tenant
        )
        access_logger.info(
            "graphql request",
            extra={
                "request_id": record.request_id,
                "trace_id": record.trace_id,
                "operation": record.operation,
                "role": role,
                "tenant": record.tenant,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
                "error_codes": sorted(set(record.error_codes)),
                "upstream": {
                    source.value: tally.as_log() for source, tally in record.upstream.items()
                },
            },
        )


def _outcome(status: int, record: RequestRecord) -> str:
    if status == 401:
        return "unauthenticated"
    if status >= 400:
        return "failed"
    return "errors" if record.error_codes else "ok"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


# --- the GraphQL side ----------------------------------------------------------------------


class ObserveOperation(SchemaExtension):
    """Tells the request's record its operation name and the error codes of its answer.

    Listed before ``PresentErrors`` so that it finishes after it and reads the codes the
    client is given.
    """

    def on_operation(self) -> Iterator[None]:
        """Record the operation name and, once executed, the answer's error codes."""
        yield
        record = current_request.get()
        if record is None:
            return
        context = self.execution_context
        # The client may name an operation anything: only an identifier is kept.
        name = context.operation_name
        record.operation = name if name is None or OPERATION_NAME.fullmatch(name) else "invalid"
        errors = getattr(context.result, "errors", None) or []
        for error in errors:
            code = (error.extensions or {}).get("code")
            record.error_codes.append(str(code) if code else "UNKNOWN")
