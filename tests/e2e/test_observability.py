"""Request ids, metrics, readiness and the access log, end to end over loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from app.cli.commands import main
from app.cli.status import render_status, status_report
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

ADA_EMAIL = "ada.lovelace@example.com"
VIEW = """query CustomerView($e: String!) { customerByEmail(email: $e) {
  id profile { name email phone } billing { delinquent } support { openTicketCount } } }"""


async def post_view(
    stack: Stack, *, request_id: str | None = None, traceparent: str | None = None
) -> dict[str, object]:
    headers = {"Authorization": f"Bearer {stack.token}"}
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    if traceparent is not None:
        headers["traceparent"] = traceparent
    response = await stack.http.post(
        f"{stack.gateway_url}/graphql",
        json={"query": VIEW, "variables": {"e": ADA_EMAIL}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    body["_request_id"] = response.headers["X-Request-Id"]
    return body


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample ``name{labels}`` in an exposition, 0 when it is absent."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    pattern = re.compile(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", re.M)
    found = pattern.search(text)
    return float(found.group(1)) if found else 0.0


async def metrics_text(stack: Stack) -> str:
    response = await stack.http.get(f"{stack.gateway_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_the_request_id_reaches_every_upstream_and_comes_back(clean_sandbox: Stack) -> None:
    body = await post_view(clean_sandbox, request_id="e2e-req-0001")
    assert body["_request_id"] == "e2e-req-0001"
    for system in ("billing", "crm", "support"):
        log = (await clean_sandbox.stats(system))["log"]
        assert log, system
        assert {entry["request_id"] for entry in log} == {"e2e-req-0001"}, system


async def test_a_request_id_is_generated_when_none_is_sent(clean_sandbox: Stack) -> None:
    body = await post_view(clean_sandbox)
    generated = body["_request_id"]
    assert isinstance(generated, str)
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    log = (await clean_sandbox.stats("crm"))["log"]
    assert {entry["request_id"] for entry in log} == {generated}


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


async def test_the_clients_trace_reaches_every_upstream(clean_sandbox: Stack) -> None:
    await post_view(clean_sandbox, request_id="e2e-trace-1", traceparent=CLIENT_TRACEPARENT)
    for system in ("billing", "crm", "support"):
        log = (await clean_sandbox.stats(system))["log"]
        assert log, system
        for entry in log:
            found = TRACEPARENT.fullmatch(entry["traceparent"] or "")
            assert found is not None, entry
            trace_id, span_id, flags = found.groups()
            assert (trace_id, flags) == (TRACE_ID, "01"), system
            # The gateway's own span, not the client's.
            assert span_id != "00f067aa0ba902b7"


async def test_a_trace_is_started_when_the_client_sends_no_valid_one(
    clean_sandbox: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        await post_view(clean_sandbox, request_id="e2e-trace-2", traceparent="00-bad-01")
    [line] = [r for r in caplog.records if r.name == "app.access" and r.request_id == "e2e-trace-2"]
    assert re.fullmatch(r"[0-9a-f]{32}", line.trace_id)
    traceparents = {entry["traceparent"] for entry in (await clean_sandbox.stats("crm"))["log"]}
    assert traceparents
    for traceparent in traceparents:
        found = TRACEPARENT.fullmatch(traceparent)
        assert found is not None
        assert found.group(1) == line.trace_id
        assert found.group(3) == "01"


async def test_unauthenticated_answers_carry_a_request_id(clean_sandbox: Stack) -> None:
    response = await clean_sandbox.http.post(
        f"{clean_sandbox.gateway_url}/graphql", json={"query": "{ __typename }"}
    )
    assert response.status_code == 401
    assert response.headers["X-Request-Id"]


async def test_metrics_count_queries_and_upstream_calls(clean_sandbox: Stack) -> None:
    before = await metrics_text(clean_sandbox)
    await post_view(clean_sandbox)
    after = await metrics_text(clean_sandbox)
    ok = {"operation": "CustomerView", "role": "agent", "outcome": "ok"}
    assert sample(after, "scv_graphql_requests_total", **ok) == (
        sample(before, "scv_graphql_requests_total", **ok) + 1
    )
    for source in ("BILLING", "CRM", "SUPPORT"):
        labels = {"source": source, "outcome": "ok"}
        assert sample(after, "scv_upstream_requests_total", **labels) > sample(
            before, "scv_upstream_requests_total", **labels
        ), source
    assert sample(after, "scv_sync_last_run_outcome", outcome="succeeded") == 1


async def test_metrics_count_a_faulted_source_by_error_code(clean_sandbox: Stack) -> None:
    before = await metrics_text(clean_sandbox)
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    body = await post_view(clean_sandbox)
    assert body["errors"]
    after = await metrics_text(clean_sandbox)
    failed = {"source": "BILLING", "outcome": "UPSTREAM_UNAVAILABLE"}
    assert sample(after, "scv_upstream_requests_total", **failed) > sample(
        before, "scv_upstream_requests_total", **failed
    )
    errors = {"operation": "CustomerView", "role": "agent", "outcome": "errors"}
    assert sample(after, "scv_graphql_requests_total", **errors) == (
        sample(before, "scv_graphql_requests_total", **errors) + 1
    )


async def test_readyz_stays_ready_with_a_source_faulted(clean_sandbox: Stack) -> None:
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    await post_view(clean_sandbox)
    response = await clean_sandbox.http.get(f"{clean_sandbox.gateway_url}/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["store"] == {"reachable": True, "migrated": True, "pending_migrations": []}
    billing = body["sources"]["BILLING"]
    assert billing["errors_5m"] >= 1
    assert billing["last_error"] is not None
    assert body["sources"]["CRM"]["last_success"] is not None


async def test_the_access_line_has_timings_and_no_personal_data(
    clean_sandbox: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        body = await post_view(clean_sandbox, request_id="e2e-access-1")
    data = body["data"]
    assert isinstance(data, dict)
    profile = data["customerByEmail"]["profile"]
    [line] = [
        r for r in caplog.records if r.name == "app.access" and r.request_id == "e2e-access-1"
    ]
    text = json.dumps(vars(line), default=str)
    for personal in (ADA_EMAIL, profile["email"], profile["phone"], profile["name"]):
        assert personal not in text
    assert "customerByEmail" not in text  # no query text
    assert line.operation == "CustomerView"
    assert re.fullmatch(r"[0-9a-f]{32}", line.trace_id)
    assert line.role == "agent"
    assert line.status == 200
    assert line.error_codes == []
    assert set(line.upstream) == {"BILLING", "CRM", "SUPPORT"}
    assert all(tally["count"] >= 1 for tally in line.upstream.values())
    assert all(tally["total_ms"] >= 0 for tally in line.upstream.values())


async def test_an_odd_operation_name_is_not_logged(
    clean_sandbox: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = await clean_sandbox.http.post(
            f"{clean_sandbox.gateway_url}/graphql",
            json={"query": "{ __typename }", "operationName": "ada@example.com"},
            headers={"Authorization": f"Bearer {clean_sandbox.token}", "X-Request-Id": "e2e-op"},
        )
    assert response.status_code in {200, 400}
    [line] = [r for r in caplog.records if r.name == "app.access" and r.request_id == "e2e-op"]
    assert line.operation in {None, "invalid"}
    assert "ada@example.com" not in json.dumps(vars(line), default=str)


async def test_status_reads_the_running_gateway(clean_sandbox: Stack) -> None:
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    await post_view(clean_sandbox)
    readyz = (await clean_sandbox.http.get(f"{clean_sandbox.gateway_url}/readyz")).json()
    report = status_report(readyz, await metrics_text(clean_sandbox))
    assert report.ready
    rows = {row.source: row for row in report.sources}
    assert set(rows) == {"BILLING", "CRM", "SUPPORT", "IVR", "ORDERS"}
    assert rows["BILLING"].state == "degraded"
    assert rows["BILLING"].error_rate is not None
    assert rows["BILLING"].error_rate > 0
    crm = rows["CRM"]
    assert crm.p50_ms is not None
    assert crm.p99_ms is not None
    assert 0 < crm.p50_ms <= crm.p99_ms
    # The response cache was asked for CRM contacts (its counters span the whole session).
    assert crm.cache_hit_ratio is not None
    assert 0 <= crm.cache_hit_ratio <= 1
    assert rows["IVR"].cache_hit_ratio is None  # never cached
    assert report.sync is not None
    assert report.sync.outcome == "succeeded"
    assert report.sync.finished_at is not None
    text = render_status(report, clean_sandbox.gateway_url)
    assert "BILLING  degraded" in text
    assert "last sync: run" in text


async def test_the_status_command_prints_the_table(
    clean_sandbox: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    await post_view(clean_sandbox)
    # The command blocks on HTTP; the gateway answers from this loop, so run it in a thread.
    await asyncio.to_thread(main, ["status", "--url", clean_sandbox.gateway_url])
    out = capsys.readouterr().out
    assert out.startswith(f"gateway {clean_sandbox.gateway_url}: ready")
    assert re.search(r"^CRM\s+(ok|degraded)\s+\d+\.\d\s+\d+\.\d\s", out, re.M)
    assert "succeeded" in out
