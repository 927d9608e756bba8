"""Each request gets its deadline as it arrives, and loses it once it has been answered."""

from __future__ import annotations

import httpx
from starlette.types import Receive, Scope, Send

from adapters.http.context import Deadline, request_deadline
from app.observability.health import SourceHealth
from app.observability.middleware import ObservabilityMiddleware
from app.wiring.metrics import GatewayMetrics
from kernel.models import Source


async def test_the_deadline_is_set_per_request_and_expired_once_answered() -> None:
    seen: list[tuple[Deadline | None, float | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        deadline = request_deadline.get()
        seen.append((deadline, deadline.left() if deadline is not None else None))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    middleware = ObservabilityMiddleware(
        app,
        metrics=GatewayMetrics.create(multiproc_dir=""),
        health={source: SourceHealth() for source in Source},
        deadline_seconds=5.0,
    )
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
        assert (await client.get("/healthz")).status_code == 200
    [(deadline, left_during)] = seen
    assert deadline is not None
    assert left_during is not None
    assert 4.0 < left_during <= 5.0
    assert deadline.left() <= 0
    assert request_deadline.get() is None
