"""A fake vendor at the HTTP boundary: an ``httpx.MockTransport`` that records requests."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.http.client import build_client
from adapters.settings import HttpSourceSettings

#: The fixed clock of every adapter under test.
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

Answer = httpx.Response | Exception


class FakeUpstream:
    """Answers each request with ``respond(request)`` and keeps every request it saw."""

    def __init__(self, respond: Callable[[httpx.Request], Answer]) -> None:
        self._respond = respond
        self.requests: list[httpx.Request] = []

    @classmethod
    def answering(cls, *answers: Answer) -> FakeUpstream:
        """Answers in this order, one per request; a request beyond them fails the test."""
        queue = deque(answers)

        def respond(request: httpx.Request) -> Answer:
            assert queue, f"unexpected extra request {request.method} {request.url}"
            return queue.popleft()

        return cls(respond)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self._respond(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def request(self) -> httpx.Request:
        """The one request made; fails the test if there were more or none."""
        assert len(self.requests) == 1, f"{len(self.requests)} requests made"
        return self.requests[0]

    def params(self, index: int = 0) -> Mapping[str, str]:
        return dict(self.requests[index].url.params)

    def body(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


@asynccontextmanager
async def client_for(
    settings: HttpSourceSettings, auth_headers: Mapping[str, str], upstream: FakeUpstream
) -> AsyncIterator[httpx.AsyncClient]:
    """The client the app would build for ``settings``, talking to ``upstream``."""
    async with build_client(settings, auth_headers, transport=upstream.transport) as client:
        yield client


def json_response(
    payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """A JSON answer."""
    return httpx.Response(status, json=payload, headers=headers)
