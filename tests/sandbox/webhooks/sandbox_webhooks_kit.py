"""What the sandbox's webhook tests share: an in-process receiver that records the webhooks it
is sent (``httpx.MockTransport``), where they go, and a delivery policy fast enough for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

from sandbox.webhooks import DeliveryPolicy

RECEIVER = "http://receiver.test/webhooks"
FAST = DeliveryPolicy(attempts=3, wait_initial=0.001, wait_max=0.002, attempt_timeout=5.0)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Receiver:
    """Records the webhooks it is sent; answers each with the next status of ``statuses``."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.statuses: list[int] = []
        self.release: asyncio.Event | None = None

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.release is not None:
            await self.release.wait()
        self.requests.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)

    def payloads(self) -> list[Any]:
        return [orjson.loads(request.content) for request in self.requests]


Drain = Callable[[], Awaitable[None]]
