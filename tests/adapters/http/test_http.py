"""The one place that speaks HTTP: status codes and transport failures to the error tree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from adapters.http.client import UpstreamHttp, build_client, gather_requests
from adapters.http.context import outbound_headers
from adapters.http.errors import parse_retry_after
from adapters.settings import HttpSourceSettings
from kernel.errors import (
    UpstreamContractError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from kernel.models import Source
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response

SECRET = "sk_live_do_not_leak"
SETTINGS = HttpSourceSettings(
    base_url="https://billing.internal.example:8443/stripe", api_key=SECRET
)


def describe(body: Any) -> str | None:
    return body.get("code") if isinstance(body, dict) else None


@asynccontextmanager
async def upstream_http(upstream: FakeUpstream) -> AsyncIterator[UpstreamHttp]:
    headers = {"Authorization": f"Bearer {SECRET}"}
    async with client_for(SETTINGS, headers, upstream) as client:
        yield UpstreamHttp(client, Source.BILLING, describe, clock=lambda: NOW)


async def fail_with(answer: httpx.Response | Exception) -> UpstreamError:
    async with upstream_http(FakeUpstream.answering(answer)) as http:
        with pytest.raises(UpstreamError) as caught:
            await http.request_json("GET", "/v1/customers/cus_ada")
    return caught.value


def timeout() -> httpx.ReadTimeout:
    return httpx.ReadTimeout("timed out reading https://billing.internal.example:8443/")


def refused() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused: billing.internal.example:8443")


async def test_json_body_of_a_2xx_answer_is_returned() -> None:
    async with upstream_http(FakeUpstream.answering(json_response({"id": "cus_ada"}))) as http:
        assert await http.request_json("GET", "/v1/customers/cus_ada") == {"id": "cus_ada"}


async def test_207_multi_status_is_a_success() -> None:
    answer = json_response({"results": []}, status=207)
    async with upstream_http(FakeUpstream.answering(answer)) as http:
        assert await http.request_json("POST", "/batch/read", json={}) == {"results": []}


async def test_read_timeout_becomes_upstream_timeout() -> None:
    assert type(await fail_with(timeout())) is UpstreamTimeout


async def test_connect_error_becomes_upstream_unavailable() -> None:
    assert type(await fail_with(refused())) is UpstreamUnavailable


async def test_transport_errors_are_chained_as_the_cause() -> None:
    original = refused()
    assert (await fail_with(original)).__cause__ is original


async def test_404_becomes_not_found() -> None:
    assert type(await fail_with(json_response({}, status=404))) is UpstreamNotFound


async def test_401_becomes_rejected() -> None:
    assert type(await fail_with(json_response({}, status=401))) is UpstreamRejected


async def test_400_becomes_rejected() -> None:
    assert type(await fail_with(json_response({}, status=400))) is UpstreamRejected


async def test_500_becomes_unavailable() -> None:
    assert type(await fail_with(json_response({}, status=500))) is UpstreamUnavailable


async def test_503_becomes_unavailable() -> None:
    assert type(await fail_with(json_response({}, status=503))) is UpstreamUnavailable


async def test_unavailable_errors_are_retryable_and_rejections_are_not() -> None:
    assert (await fail_with(json_response({}, status=503))).retryable
    assert not (await fail_with(json_response({}, status=401))).retryable


async def test_429_becomes_rate_limited_with_retry_after_seconds() -> None:
    error = await fail_with(json_response({}, status=429, headers={"Retry-After": "7"}))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 7.0


async def test_429_retry_after_http_date_counts_from_the_clock() -> None:
    later = (NOW + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    error = await fail_with(json_response({}, status=429, headers={"Retry-After": later}))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after == 90.0


async def test_429_without_retry_after_has_none() -> None:
    error = await fail_with(json_response({}, status=429))
    assert isinstance(error, UpstreamRateLimited)
    assert error.retry_after is None


async def test_redirect_is_not_followed_and_becomes_contract_error() -> None:
    answer = httpx.Response(302, headers={"Location": "https://elsewhere.example/"})
    assert type(await fail_with(answer)) is UpstreamContractError


async def test_non_json_body_becomes_contract_error() -> None:
    answer = httpx.Response(200, content=b"<html>gateway</html>")
    assert type(await fail_with(answer)) is UpstreamContractError


async def test_error_message_names_status_and_vendor_code() -> None:
    error = await fail_with(json_response({"code": "resource_missing"}, status=404))
    assert error.message == "answered HTTP 404 (resource_missing)"


async def test_error_message_leaves_out_vendor_free_text() -> None:
    body = {"code": "No such customer: ada.lovelace@example.com"}
    error = await fail_with(json_response(body, status=404))
    assert error.message == "answered HTTP 404"


async def test_error_message_of_non_json_error_body_is_the_status() -> None:
    error = await fail_with(httpx.Response(502, content=b"Bad Gateway"))
    assert error.message == "answered HTTP 502"


@pytest.mark.parametrize("answer", [timeout(), refused(), json_response({}, status=500)])
async def test_error_message_never_names_url_host_or_key(answer: Any) -> None:
    text = str(await fail_with(answer))
    assert "internal.example" not in text
    assert "8443" not in text
    assert SECRET not in text


async def test_parse_failure_is_a_contract_error_naming_the_resource_only() -> None:
    class Customer(BaseModel):
        id: str
        created: int

    async with upstream_http(FakeUpstream.answering()) as http:
        with pytest.raises(UpstreamContractError) as caught:
            http.parse(Customer, {"id": "cus_ada", "created": "ada@example.com"}, "customer")
    assert caught.value.message == "customer payload failed validation"


async def test_segment_quotes_an_id_so_it_stays_one_path_segment() -> None:
    async with upstream_http(FakeUpstream.answering()) as http:
        assert http.segment("cus_1/../admin?x=1") == "cus_1%2F..%2Fadmin%3Fx%3D1"


@pytest.mark.parametrize("value", ["", ".", ".."])
async def test_segment_of_an_empty_or_dot_id_is_not_found(value: str) -> None:
    async with upstream_http(FakeUpstream.answering()) as http:
        with pytest.raises(UpstreamNotFound):
            http.segment(value)


async def test_per_call_headers_are_sent() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream) as http:
        await http.request_json("GET", "/v1/customers", headers={"X-Request-Id": "req-1"})
    assert upstream.request.headers["X-Request-Id"] == "req-1"


async def test_outbound_headers_of_the_context_are_sent() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    token = outbound_headers.set({"X-Request-Id": "req-2"})
    try:
        async with upstream_http(upstream) as http:
            await http.request_json("GET", "/v1/customers")
    finally:
        outbound_headers.reset(token)
    assert upstream.request.headers["X-Request-Id"] == "req-2"


async def test_client_keeps_the_path_of_the_base_url() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream) as http:
        await http.request_json("GET", "/v1/customers")
    assert upstream.request.url.path == "/stripe/v1/customers"


async def test_client_sends_the_auth_headers() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream) as http:
        await http.request_json("GET", "/v1/customers")
    assert upstream.request.headers["Authorization"] == f"Bearer {SECRET}"


async def test_client_timeouts_come_from_settings() -> None:
    settings = HttpSourceSettings(
        base_url="https://x.test", api_key="k", connect_timeout=0.5, read_timeout=3.0
    )
    async with build_client(settings, {}) as client:
        assert (client.timeout.connect, client.timeout.read) == (0.5, 3.0)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Sat, 01 Jun 2024 12:00:30 GMT", 30.0),
        ("Sat, 01 Jun 2024 11:00:00 GMT", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


async def test_gather_requests_cancels_the_others_when_one_fails() -> None:
    cancelled = asyncio.Event()

    async def slow() -> int:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    async def failing() -> int:
        raise UpstreamUnavailable(Source.CRM, "answered HTTP 503")

    with pytest.raises(UpstreamUnavailable):
        await gather_requests([slow(), failing()])
    await asyncio.wait_for(cancelled.wait(), timeout=1)
