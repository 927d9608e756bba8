"""The request's deadline caps every upstream call; the call policy wraps every call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from adapters.crm.client import HttpCrmAdapter
from adapters.crm.settings import CrmSettings
from adapters.http.client import Attempt, UpstreamHttp
from adapters.http.context import Deadline, detached_context, request_deadline, upstream_observer
from adapters.settings import HttpSourceSettings
from kernel.errors import UpstreamTimeout
from kernel.models import CrmContactId, Source
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response

SETTINGS = HttpSourceSettings(
    base_url="https://billing.example", api_key="sk_test", connect_timeout=1.0, read_timeout=3.0
)


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    token = request_deadline.set(Deadline.after(seconds))
    try:
        yield
    finally:
        request_deadline.reset(token)


class RecordingPolicy:
    """Makes each call once and remembers whether it was called idempotent."""

    def __init__(self) -> None:
        self.idempotent: list[bool] = []

    async def call(self, attempt: Attempt, *, idempotent: bool) -> Any:
        self.idempotent.append(idempotent)
        return await attempt()


@asynccontextmanager
async def upstream_http(
    upstream: FakeUpstream, policy: RecordingPolicy | None = None
) -> AsyncIterator[UpstreamHttp]:
    async with client_for(SETTINGS, {}, upstream) as client:
        yield UpstreamHttp(client, Source.BILLING, lambda body: None, policy=policy)


def sent_timeout(upstream: FakeUpstream) -> dict[str, float]:
    timeout: dict[str, float] = upstream.request.extensions["timeout"]
    return timeout


async def test_without_a_deadline_the_configured_timeouts_apply() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream) as http:
        await http.request_json("GET", "/v1/customers/cus_1")
    assert sent_timeout(upstream)["read"] == 3.0
    assert sent_timeout(upstream)["connect"] == 1.0


async def test_the_time_left_caps_every_timeout_of_the_call() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream) as http:
        with deadline_in(0.5):
            await http.request_json("GET", "/v1/customers/cus_1")
    for phase in ("connect", "read", "write", "pool"):
        assert 0 < sent_timeout(upstream)[phase] <= 0.5, phase


async def test_a_call_with_no_time_left_fails_at_once_and_sends_nothing() -> None:
    upstream = FakeUpstream.answering(json_response({}))
    observed: list[str | None] = []
    observer_token = upstream_observer.set(lambda source, seconds, code: observed.append(code))
    try:
        async with upstream_http(upstream) as http:
            with deadline_in(-0.01), pytest.raises(UpstreamTimeout) as caught:
                await http.request_json("GET", "/v1/customers/cus_1")
    finally:
        upstream_observer.reset(observer_token)
    assert upstream.requests == []
    assert observed == []
    assert "deadline" in caught.value.message


async def test_a_source_still_silent_at_the_deadline_is_a_timeout() -> None:
    async def never_answers(request: httpx.Request) -> httpx.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    transport = httpx.MockTransport(never_answers)
    async with httpx.AsyncClient(base_url=SETTINGS.base_url, transport=transport) as client:
        http = UpstreamHttp(client, Source.BILLING, lambda body: None)
        with deadline_in(0.05), pytest.raises(UpstreamTimeout) as caught:
            await http.request_json("GET", "/v1/customers/cus_1")
    assert caught.value.code == "UPSTREAM_TIMEOUT"
    assert "deadline" in caught.value.message


@pytest.mark.parametrize(
    ("method", "marked", "expected"),
    [
        ("GET", None, True),
        ("POST", None, False),
        ("DELETE", None, False),
        ("POST", True, True),
    ],
)
async def test_the_policy_is_told_whether_the_call_is_idempotent(
    method: str, marked: bool | None, expected: bool
) -> None:
    policy = RecordingPolicy()
    upstream = FakeUpstream.answering(json_response({}))
    async with upstream_http(upstream, policy) as http:
        await http.request_json(method, "/v1/anything", idempotent=marked)
    assert policy.idempotent == [expected]


async def test_crm_batch_reads_are_marked_idempotent() -> None:
    policy = RecordingPolicy()
    upstream = FakeUpstream.answering(json_response({"results": []}))
    settings = CrmSettings(base_url="https://crm.example")
    async with client_for(settings, {}, upstream) as client:
        crm = HttpCrmAdapter(settings, client, clock=lambda: NOW, policy=policy)
        await crm.get_contacts([CrmContactId("1001")])
    assert upstream.request.method == "POST"
    assert policy.idempotent == [True]


async def test_crm_searches_are_marked_idempotent() -> None:
    policy = RecordingPolicy()
    upstream = FakeUpstream.answering(json_response({"results": []}))
    settings = CrmSettings(base_url="https://crm.example")
    async with client_for(settings, {}, upstream) as client:
        crm = HttpCrmAdapter(settings, client, clock=lambda: NOW, policy=policy)
        await crm.search_contacts(email="someone@example.com")
    assert upstream.request.method == "POST"
    assert policy.idempotent == [True]


def test_a_detached_context_keeps_the_end_time_but_not_the_expiry() -> None:
    with deadline_in(5.0):
        deadline = request_deadline.get()
        assert deadline is not None
        detached = detached_context()
        deadline.expire()
        own = detached.get(request_deadline)
        assert own is not None
        assert own is not deadline
        assert own.left() > 4.0
        assert deadline.left() <= 0
