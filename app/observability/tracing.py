"""OpenTelemetry spans: one per request, one per upstream call, when an exporter is set.

Off unless ``SCV_TRACING__EXPORTER`` names an exporter; the SDK is the optional extra
``otel`` (``pip install 'scv-gateway[otel]'``), so a gateway that does not trace carries no
tracing dependency. Asking for an exporter without the extra installed is a start-up error,
not a silent no-op.

The request span joins the client's W3C trace (``traceparent``) or starts one; the
``traceparent`` the gateway sends upstream names the request span, so the systems' own
spans hang under it. Upstream call spans are recorded from what the upstream observer
reports (source, duration, error code) once each call is over, with its true start and end
times: that keeps tracing out of ``adapters/``, which know nothing of the app.

Spans carry no personal data: method, route path, status, operation name, role, request
id, source and error code, never variables, query text or upstream URLs with their query
strings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from kernel.models import Source

__all__ = ["RequestSpan", "RequestTracer", "TracingSettings", "build_tracer"]

Exporter = Literal["none", "otlp", "console"]


class TracingSettings(BaseModel):
    """OpenTelemetry tracing (``SCV_TRACING__*``); needs the ``otel`` extra when on."""

    exporter: Exporter = Field(
        default="none",
        description=(
            "where spans go: none (off), otlp (OTLP over HTTP; endpoint from "
            "SCV_TRACING__OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT), console (stdout)"
        ),
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces",
    )
    service_name: str = Field(
        default="scv-gateway", description="the service.name resource attribute"
    )
    sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="share of new traces recorded; a client's sampled flag is followed",
    )


@dataclass(frozen=True, slots=True)
class TraceParent:
    """The incoming trace to join: trace id, the caller's span id, W3C flags (hex)."""

    trace_id: str
    parent_id: str
    flags: str


class RequestSpan:
    """The span of one request and the upstream call spans under it."""

    def __init__(self, tracer: Tracer, span: Span) -> None:
        self._tracer = tracer
        self._span = span

    def traceparent(self) -> str:
        """A W3C ``traceparent`` naming this span, for the calls the request makes."""
        context = self._span.get_span_context()
        flags = "01" if context.trace_flags.sampled else "00"
        return f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"

    def upstream_call(self, source: Source, seconds: float, error_code: str | None) -> None:
        """Record a finished call to ``source`` that took ``seconds`` (ending now)."""
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        end = time.time_ns()
        start = end - int(seconds * 1e9)
        span = self._tracer.start_span(
            f"{source.value} call",
            context=trace.set_span_in_context(self._span),
            kind=SpanKind.CLIENT,
            start_time=start,
            attributes={"scv.source": source.value},
        )
        if error_code is not None:
            span.set_attribute("scv.error_code", error_code)
            span.set_status(Status(StatusCode.ERROR, error_code))
        span.end(end_time=end)

    def finish(
        self,
        *,
        status: int,
        operation: str | None,
        role: str | None,
        error_codes: list[str],
    ) -> None:
        """End the request span with what the access log also says of it."""
        from opentelemetry.trace import Status, StatusCode

        span = self._span
        span.set_attribute("http.response.status_code", status)
        if operation:
            span.set_attribute("graphql.operation.name", operation)
        if role:
            span.set_attribute("scv.role", role)
        if error_codes:
            span.set_attribute("scv.error_codes", sorted(set(error_codes)))
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class RequestTracer:
    """Starts request spans; owns the SDK's tracer provider (flushed on shutdown)."""

    def __init__(self, provider: TracerProvider) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("scv-gateway")

    def start_request(
        self, parent: TraceParent | None, *, method: str, path: str, request_id: str
    ) -> RequestSpan:
        """A server span for one request, a child of the client's span when it sent one."""
        from opentelemetry import trace
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            SpanKind,
            TraceFlags,
        )

        context = None
        if parent is not None:
            remote = SpanContext(
                trace_id=int(parent.trace_id, 16),
                span_id=int(parent.parent_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(int(parent.flags, 16)),
            )
            context = trace.set_span_in_context(NonRecordingSpan(remote))
        span = self._tracer.start_span(
            f"{method} {path}",
            context=context,
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": path,
                "scv.request_id": request_id,
            },
        )
        return RequestSpan(self._tracer, span)

    def shutdown(self) -> None:
        """Export what is buffered and stop the exporter."""
        self._provider.shutdown()


def build_tracer(
    settings: TracingSettings, exporter: SpanExporter | None = None
) -> RequestTracer | None:
    """The tracer ``settings`` ask for, or None when tracing is off.

    ``exporter`` replaces the configured one (tests hand in an in-memory exporter).
    Raises ``RuntimeError`` with the fix when an exporter is set but the extra is missing.
    """
    if settings.exporter == "none" and exporter is None:
        return None
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        raise RuntimeError(
            f"SCV_TRACING__EXPORTER={settings.exporter} needs OpenTelemetry: "
            "pip install 'scv-gateway[otel]'"
        ) from exc
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if exporter is not None:
        # Handed in by a caller that reads spans back at once: no batching delay.
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    return RequestTracer(provider)


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.exporter == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        raise RuntimeError(
            "SCV_TRACING__EXPORTER=otlp needs the OTLP exporter: pip install 'scv-gateway[otel]'"
        ) from exc
    return OTLPSpanExporter(endpoint=settings.otlp_endpoint)
