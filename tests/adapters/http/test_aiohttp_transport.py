"""The aiohttp transport behind the adapters: httpx's behaviour, over a real socket."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.billing.settings import BillingSettings
from adapters.http.client import SourceClient, UpstreamHttp, build_client
from adapters.http.context import outbound_headers
from adapters.http.transport import AiohttpTransport
from kernel.errors import UpstreamRateLimited, UpstreamTimeout, UpstreamUnavailable
from kernel.models import Source
from tests.e2e.harness import serve, stop


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "content_type": request.headers.get("content-type"),
            "accept": request.headers.get("accept"),
            "request_id": request.headers.get("x-request-id"),
            "authorization": request.headers.get("authorization"),
            "cookie": request.headers.get("cookie"),
            "body": body.decode(),
        },
        headers={"Set-Cookie": "session=abc; Path=/"},
    )


async def gzipped(request: Request) -> Response:
    return Response(
        gzip.compress(b'{"packed": true}'),
        media_type="application/json",
        headers={"Content-Encoding": "gzip"},
    )


async def slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return JSONResponse({})


async def busy(request: Request) -> Response:
    return JSONResponse(
        {"error": {"type": "api_error"}}, status_code=429, headers={"Retry-After": "7"}
    )


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["GET", "POST"]),
        Route("/billing/v1/echo", echo, methods=["GET", "POST"]),
        Route("/billing/v1/busy", busy),
        Route("/gzip", gzipped),
        Route("/slow", slow),
    ]
)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    server, task, port = await serve(APP)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop(server, task)


def client(base_url: str, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, transport=AiohttpTransport(), **kwargs)


def describe(body: Any) -> str | None:
    return None


async def test_a_get_carries_the_headers_and_answers_json(base_url: str) -> None:
    async with client(base_url, headers={"Authorization": "Bearer k"}) as http:
        answer = await http.get("/echo")
    assert answer.status_code == 200
    assert answer.json()["authorization"] == "Bearer k"
    assert answer.json()["method"] == "GET"


async def test_a_post_sends_its_json_body(base_url: str) -> None:
    async with client(base_url) as http:
        answer = await http.post("/echo", json={"inputs": [1]})
    assert answer.json()["body"] == '{"inputs":[1]}'


async def test_a_compressed_answer_is_decoded(base_url: str) -> None:
    async with client(base_url) as http:
        answer = await http.get("/gzip")
    assert answer.json() == {"packed": True}


async def test_a_cookie_from_one_answer_never_rides_on_the_next_call(base_url: str) -> None:
    settings = BillingSettings(base_url=base_url)
    async with build_client(settings, {}) as http:
        await http.get("/echo")
        second = await http.get("/echo")
    assert second.json()["cookie"] is None


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_refused_connection_is_unavailable_not_a_timeout() -> None:
    async with client(f"http://127.0.0.1:{closed_port()}") as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        with pytest.raises(UpstreamUnavailable) as raised:
            await upstream.request_json("GET", "/echo")
    assert raised.value.code == "UPSTREAM_UNAVAILABLE"


async def test_no_answer_within_the_read_timeout_is_a_timeout(base_url: str) -> None:
    async with client(base_url, timeout=httpx.Timeout(0.2)) as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        with pytest.raises(UpstreamTimeout):
            await upstream.request_json("GET", "/slow")


# --- UpstreamHttp past httpx's pipeline (the client build_client makes) ------------------------


def billing(base_url: str) -> SourceClient:
    settings = BillingSettings(base_url=f"{base_url}/billing")
    return build_client(settings, {"Authorization": "Bearer sk_test"})


async def test_the_client_build_client_makes_sends_through_aiohttp_directly(base_url: str) -> None:
    async with billing(base_url) as http:
        assert isinstance(http.direct, AiohttpTransport)
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        token = outbound_headers.set({"X-Request-Id": "req-1"})
        try:
            answer = await upstream.request_json(
                "GET", "/v1/echo", params={"limit": 5, "email": "ada lovelace@example.com"}
            )
        finally:
            outbound_headers.reset(token)
    # The base URL's path, then the request's; the query as it was given.
    assert answer["path"] == "/billing/v1/echo"
    assert answer["query"] == {"limit": "5", "email": "ada lovelace@example.com"}
    assert answer["authorization"] == "Bearer sk_test"
    assert answer["accept"] == "application/json"
    assert answer["request_id"] == "req-1"


async def test_a_direct_post_sends_its_json_body_and_never_a_cookie(base_url: str) -> None:
    async with billing(base_url) as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        await upstream.request_json("POST", "/v1/echo", json={"inputs": [{"id": "1"}]})
        answer = await upstream.request_json("POST", "/v1/echo", json={"inputs": []})
    assert answer["body"] == '{"inputs":[]}'
    assert answer["content_type"] == "application/json"
    assert answer["cookie"] is None


async def test_a_direct_call_turns_a_429_into_rate_limited_with_its_retry_after(
    base_url: str,
) -> None:
    async with billing(base_url) as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        with pytest.raises(UpstreamRateLimited) as raised:
            await upstream.request_json("GET", "/v1/busy")
    assert raised.value.retry_after == 7.0
    assert "HTTP 429" in raised.value.message


async def test_a_direct_call_reads_a_compressed_answer(base_url: str) -> None:
    settings = BillingSettings(base_url=base_url)
    async with build_client(settings, {}) as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        assert await upstream.request_json("GET", "/gzip") == {"packed": True}


async def test_a_refused_direct_connection_is_unavailable_not_a_timeout() -> None:
    settings = BillingSettings(base_url=f"http://127.0.0.1:{closed_port()}")
    async with build_client(settings, {}) as http:
        upstream = UpstreamHttp(http, Source.BILLING, describe)
        with pytest.raises(UpstreamUnavailable):
            await upstream.request_json("GET", "/echo")
