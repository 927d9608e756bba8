"""OpenTelemetry spans, end to end: one per request, one per upstream call, no personal data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from app.main import create_app
from tests.e2e.harness import Stack, serve, stop

pytestmark = pytest.mark.e2e

ADA_EMAIL = "ada.lovelace@example.com"
VIEW = """query CustomerView($e: String!) { customerByEmail(email: $e) {
  id profile { name email } billing { delinquent } support { openTicketCount } } }"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


@dataclass(frozen=True)
class TracedGateway:
    url: str
    spans: InMemorySpanExporter


@pytest.fixture
async def traced(clean_sandbox: Stack) -> AsyncIterator[TracedGateway]:
    """A second gateway over the stack's store and sandbox, exporting spans to memory."""
    exporter = InMemorySpanExporter()
    app = create_app(clean_sandbox.settings, registry=CollectorRegistry(), span_exporter=exporter)
    server, task, port = await serve(app)
    try:
        yield TracedGateway(f"http://127.0.0.1:{port}", exporter)
    finally:
        await stop(server, task)


async def post_view(stack: Stack, gateway: TracedGateway, **headers: str) -> None:
    response = await stack.http.post(
        f"{gateway.url}/graphql",
        json={"query": VIEW, "variables": {"e": ADA_EMAIL}},
        headers={"Authorization": f"Bearer {stack.token}", **headers},
    )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()


def attrs(span: ReadableSpan) -> Mapping[str, object]:
    return span.attributes or {}


def server_span(spans: tuple[ReadableSpan, ...]) -> ReadableSpan:
    [found] = [
        span
        for span in spans
        if span.kind is SpanKind.SERVER and attrs(span).get("url.path") == "/graphql"
    ]
    return found


async def test_a_request_gets_a_span_joining_the_clients_trace(
    clean_sandbox: Stack, traced: TracedGateway
) -> None:
    await post_view(clean_sandbox, traced, traceparent=f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01")
    span = server_span(traced.spans.get_finished_spans())
    assert f"{span.context.trace_id:032x}" == TRACE_ID
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == CLIENT_SPAN_ID
    assert attrs(span)["graphql.operation.name"] == "CustomerView"
    assert attrs(span)["http.response.status_code"] == 200
    assert attrs(span)["scv.role"] == "agent"


async def test_each_upstream_call_gets_a_child_span(
    clean_sandbox: Stack, traced: TracedGateway
) -> None:
    await post_view(clean_sandbox, traced)
    spans = traced.spans.get_finished_spans()
    request = server_span(spans)
    calls = [span for span in spans if span.kind is SpanKind.CLIENT]
    assert {attrs(span)["scv.source"] for span in calls} == {"BILLING", "CRM", "SUPPORT"}
    for call in calls:
        assert call.parent is not None
        assert call.parent.span_id == request.context.span_id
        assert call.context.trace_id == request.context.trace_id
        assert call.start_time is not None
        assert call.end_time is not None
        assert call.start_time <= call.end_time


async def test_upstreams_are_told_the_request_spans_id(
    clean_sandbox: Stack, traced: TracedGateway
) -> None:
    await post_view(clean_sandbox, traced, traceparent=f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01")
    request = server_span(traced.spans.get_finished_spans())
    log = (await clean_sandbox.stats("crm"))["log"]
    assert log
    for entry in log:
        found = TRACEPARENT.fullmatch(entry["traceparent"] or "")
        assert found is not None
        assert found.group(1) == TRACE_ID
        assert found.group(2) == f"{request.context.span_id:016x}"


async def test_a_failing_upstream_call_is_an_error_span(
    clean_sandbox: Stack, traced: TracedGateway
) -> None:
    await clean_sandbox.set_faults("support", error_rate=1.0, error_status=503)
    response = await clean_sandbox.http.post(
        f"{traced.url}/graphql",
        json={"query": VIEW, "variables": {"e": ADA_EMAIL}},
        headers={"Authorization": f"Bearer {clean_sandbox.token}"},
    )
    assert response.status_code == 200
    support = [
        span
        for span in traced.spans.get_finished_spans()
        if attrs(span).get("scv.source") == "SUPPORT"
    ]
    assert support
    assert all(span.status.status_code is StatusCode.ERROR for span in support)
    assert {attrs(span).get("scv.error_code") for span in support} == {"UPSTREAM_UNAVAILABLE"}


async def test_spans_carry_no_personal_data(clean_sandbox: Stack, traced: TracedGateway) -> None:
    await post_view(clean_sandbox, traced)
    for span in traced.spans.get_finished_spans():
        text = (repr(dict(attrs(span))) + span.name).lower()
        # Ada's email, name and phone (as the CRM and billing hold it) appear nowhere.
        for value in ("@", "lovelace", "2079460018"):
            assert value not in text
