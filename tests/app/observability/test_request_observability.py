"""Request ids, upstream observation, the access log line and the per-source health window."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapters.http.client import UpstreamHttp
from adapters.http.context import ABORTED, upstream_observer
from app.observability.health import SourceHealth
from app.observability.middleware import ObservabilityMiddleware, RequestRecord, current_request
from app.observability.trace_context import request_id_from
from app.wiring.metrics import GatewayMetrics
from kernel.errors import UpstreamUnavailable
from kernel.models import Source


def upstream(seen: list[httpx.Request]) -> UpstreamHttp:
    """Billing over a mock transport: ``/ok`` answers 200, anything else 503."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/ok":
            return httpx.Response(200, json={"id": "cus_1"})
        return httpx.Response(503, json={"error": {"type": "api_error"}})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle), base_url="http://billing")
    return UpstreamHttp(client, Source.BILLING, lambda body: None)


def app_calling(http: UpstreamHttp, metrics: GatewayMetrics, health: dict[Source, SourceHealth]):
    """An app whose /graphql and /other call billing's ``/ok`` then ``/fail``."""

    async def endpoint(request: Request) -> JSONResponse:
        record = current_request.get()
        assert record is not None
        record.role = "agent"
        record.operation = "CustomerView"
        await http.request_json("GET", "/ok")
        try:
            await http.request_json("GET", "/fail")
        except UpstreamUnavailable:
            record.error_codes.append("UPSTREAM_UNAVAILABLE")
        return JSONResponse({"data": None})

    return Starlette(
        routes=[Route("/graphql", endpoint, methods=["POST"]), Route("/other", endpoint)],
        middleware=[Middleware(ObservabilityMiddleware, metrics=metrics, health=health)],
    )


@pytest.fixture
def metrics() -> GatewayMetrics:
    return GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")


@pytest.fixture
def health() -> dict[Source, SourceHealth]:
    return {source: SourceHealth() for source in Source}


@pytest.fixture
async def client(metrics: GatewayMetrics, health: dict[Source, SourceHealth]):
    seen: list[httpx.Request] = []
    app = app_calling(upstream(seen), metrics, health)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        http.upstream_requests = seen  # type: ignore[attr-defined]
        yield http


@pytest.mark.parametrize("sent", ["abc-123", "a.b:c_d-E", "x" * 128])
def test_a_sane_request_id_is_kept(sent: str) -> None:
    assert request_id_from(sent) == sent


@pytest.mark.parametrize("sent", [None, "", "x" * 129, "a b", "a\nb", "ada@example.com", "é"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_uuid_hex(sent: str | None) -> None:
    new = request_id_from(sent)
    assert new != sent
    assert len(new) == 32
    int(new, 16)


async def test_the_request_id_is_returned_and_sent_upstream(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", headers={"X-Request-Id": "req-42"})
    assert response.headers["X-Request-Id"] == "req-42"
    sent = [r.headers.get("X-Request-Id") for r in client.upstream_requests]  # type: ignore[attr-defined]
    assert sent == ["req-42", "req-42"]


async def test_an_odd_request_id_is_replaced_everywhere(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", headers={"X-Request-Id": "not sane!"})
    new = response.headers["X-Request-Id"]
    assert new != "not sane!"
    sent = {r.headers.get("X-Request-Id") for r in client.upstream_requests}  # type: ignore[attr-defined]
    assert sent == {new}


async def test_a_request_without_an_id_gets_one(client: httpx.AsyncClient) -> None:
    first = await client.post("/graphql")
    second = await client.post("/graphql")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


async def test_a_404_carries_a_request_id(client: httpx.AsyncClient) -> None:
    response = await client.get("/nowhere")
    assert response.status_code == 404
    assert response.headers["X-Request-Id"]


async def test_nothing_is_observed_outside_a_request(client: httpx.AsyncClient) -> None:
    await client.post("/graphql")
    assert upstream_observer.get() is None
    assert current_request.get() is None


async def test_one_access_line_per_graphql_request_with_upstream_timings(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.access"):
        response = await client.post("/graphql", headers={"X-Request-Id": "req-7"})
        await client.get("/other")
    [line] = [r for r in caplog.records if r.name == "app.access"]
    assert line.request_id == "req-7"  # type: ignore[attr-defined]
    assert line.operation == "CustomerView"  # type: ignore[attr-defined]
    assert line.role == "agent"  # type: ignore[attr-defined]
    assert line.status == response.status_code == 200  # type: ignore[attr-defined]
    assert line.error_codes == ["UPSTREAM_UNAVAILABLE"]  # type: ignore[attr-defined]
    billing = line.upstream["BILLING"]  # type: ignore[attr-defined]
    assert billing["count"] == 2
    assert billing["total_ms"] >= 0
    assert billing["errors"] == {"UPSTREAM_UNAVAILABLE": 1}
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


async def test_upstream_requests_are_counted_by_source_and_outcome(
    client: httpx.AsyncClient, metrics: GatewayMetrics
) -> None:
    await client.post("/graphql")
    value = metrics.registry.get_sample_value
    assert value("scv_upstream_requests_total", {"source": "BILLING", "outcome": "ok"}) == 1
    assert (
        value(
            "scv_upstream_requests_total",
            {"source": "BILLING", "outcome": "UPSTREAM_UNAVAILABLE"},
        )
        == 1
    )
    assert value("scv_upstream_request_duration_seconds_count", {"source": "BILLING"}) == 2


async def test_graphql_requests_are_counted_by_operation_role_and_outcome(
    client: httpx.AsyncClient, metrics: GatewayMetrics
) -> None:
    await client.post("/graphql")
    await client.get("/other")
    labels = {"operation": "CustomerView", "role": "agent", "outcome": "errors"}
    assert metrics.registry.get_sample_value("scv_graphql_requests_total", labels) == 1
    assert (
        metrics.registry.get_sample_value(
            "scv_graphql_request_duration_seconds_count",
            {"operation": "CustomerView", "role": "agent"},
        )
        == 1
    )


async def test_upstream_outcomes_feed_the_source_health(
    client: httpx.AsyncClient, health: dict[Source, SourceHealth]
) -> None:
    await client.post("/graphql")
    assert health[Source.BILLING].counts() == (2, 1)
    assert health[Source.BILLING].last_success is not None
    assert health[Source.CRM].counts() == (0, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_health_error_rate_covers_the_window_only() -> None:
    clock = FakeClock()
    window = SourceHealth(window_seconds=300, bucket_seconds=10, clock=clock)
    window.record(ok=False)
    window.record(ok=False)
    clock.now += 200
    window.record(ok=True)
    assert window.counts() == (3, 2)
    clock.now += 150
    assert window.counts() == (1, 0)
    assert window.error_rate() == 0.0
    clock.now += 400
    assert window.error_rate() is None


def test_health_keeps_the_last_success_time() -> None:
    times = iter([datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)])
    window = SourceHealth(wall_clock=lambda: next(times))
    window.record(ok=True)
    window.record(ok=False)
    snapshot = window.snapshot()
    assert snapshot["last_success"] == "2026-01-01T00:00:00+00:00"
    assert snapshot["last_error"] == "2026-01-02T00:00:00+00:00"
    assert snapshot["error_rate_5m"] == 0.5


def test_health_memory_stays_bounded_by_the_buckets() -> None:
    clock = FakeClock()
    window = SourceHealth(window_seconds=300, bucket_seconds=10, clock=clock)
    for _ in range(10_000):
        clock.now += 1
        window.record(ok=True)
    assert len(window._buckets) <= 31
    assert window.counts()[0] <= 310


async def test_a_cancelled_upstream_call_is_observed_as_aborted() -> None:
    async def never(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    client = httpx.AsyncClient(transport=httpx.MockTransport(never), base_url="http://crm")
    http = UpstreamHttp(client, Source.CRM, lambda body: None)
    seen: list[tuple[Source, str | None]] = []
    token = upstream_observer.set(lambda source, seconds, code: seen.append((source, code)))
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await http.request_json("GET", "/slow")
    finally:
        upstream_observer.reset(token)
        await client.aclose()
    assert seen == [(Source.CRM, ABORTED)]


async def test_a_cancelled_call_does_not_count_against_the_source_health(
    metrics: GatewayMetrics, health: dict[Source, SourceHealth]
) -> None:
    middleware = ObservabilityMiddleware(
        lambda scope, receive, send: None,  # type: ignore[arg-type,return-value]
        metrics=metrics,
        health=health,
    )
    observe = middleware._observer(RequestRecord(request_id="r"), None)
    observe(Source.CRM, 0.01, ABORTED)
    assert health[Source.CRM].counts() == (0, 0)
    assert (
        metrics.registry.get_sample_value(
            "scv_upstream_requests_total", {"source": "CRM", "outcome": "ABORTED"}
        )
        == 1
    )
