"""Who a request is: its id (X-Request-Id) and its W3C trace context (traceparent)."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-Id"
# What a client's id may look like to be kept: it is logged and sent to every upstream,
# so nothing that could smuggle a header, a log field or personal data.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_from(header: str | None) -> str:
    """The client's request id if it is a sane token, else a new one (uuid4 hex)."""
    if header is not None and _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


# --- W3C trace context ---------------------------------------------------------------------

TRACEPARENT_HEADER = "traceparent"
# Version 00 exactly: lower-case hex only, as the W3C Trace Context spec requires.
_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
#: Flags of a trace the gateway starts: sampled, so a downstream tracer keeps it.
_SAMPLED = "01"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One request's place in a W3C trace: the trace, its parent span, and the flags."""

    trace_id: str
    parent_id: str
    flags: str

    def child_traceparent(self) -> str:
        """A ``traceparent`` for an outgoing call: the same trace, a new span id."""
        return f"00-{self.trace_id}-{_new_span_id()}-{self.flags}"


def parse_traceparent(header: str | None) -> TraceContext | None:
    """The trace context of a W3C ``traceparent`` header, or None if it is not a valid one.

    Written by hand rather than taken from OpenTelemetry: the gateway needs only to join a
    trace and pass it on, which is one regular expression, and a tracing SDK is a
    dependency only gateways that record spans need (the ``otel`` extra,
    ``app.observability.tracing``).
    Only version 00 is accepted; an all-zero trace id or parent id is invalid, as the spec says.
    """
    if header is None:
        return None
    found = _TRACEPARENT.fullmatch(header.strip())
    if found is None:
        return None
    trace_id, parent_id, flags = found.groups()
    if trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_SPAN_ID:
        return None
    return TraceContext(trace_id=trace_id, parent_id=parent_id, flags=flags)


def trace_context_from(header: str | None) -> TraceContext:
    """The client's trace if its ``traceparent`` is valid, else a new sampled trace."""
    parsed = parse_traceparent(header)
    if parsed is not None:
        return parsed
    return TraceContext(trace_id=_new_trace_id(), parent_id=_new_span_id(), flags=_SAMPLED)


def _new_trace_id() -> str:
    # The odds of 128 random bits being all zero are nil, but the spec forbids it outright.
    while (trace_id := secrets.token_hex(16)) == _ZERO_TRACE_ID:
        pass
    return trace_id


def _new_span_id() -> str:
    while (span_id := secrets.token_hex(8)) == _ZERO_SPAN_ID:
        pass
    return span_id
