"""Fault injection and request statistics, one independent set per system.

``SystemControl`` holds a system's current faults and its stats; ``ControlMiddleware``
applies the faults to (and counts) every vendor request; ``control_routes`` serves
``/_sandbox/faults`` and ``/_sandbox/stats``. The sandbox's own routes (those two and
``/openapi.json``) are never faulted nor counted.

Faults apply in this order: latency (+ jitter), hang, rate limit, error rate, malformed
JSON, contract (a payload of the wrong shape); the vendor's own handling (auth included)
runs only if none of them answered.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.clock import SandboxClock
from sandbox.openapi import BOOLEAN, INTEGER, NUMBER, STRING, Operation, nullable, obj, ref
from sandbox.responses import JSON, JsonResponse, VendorErrors
from sandbox.routing import is_public, route_template
from sandbox.webhooks import WEBHOOK_SYSTEMS, WebhookOutbox

#: Logged as the status of a request whose client went away before it was answered.
CLIENT_CLOSED = 499

LOG_SIZE = 10_000

MALFORMED_BODY = b'{"object": "list", "data": [{"id": "trunc'
#: Valid JSON with none of any vendor's required fields, as when a vendor changes its API
#: under us: what every system's client must refuse as a contract violation.
CONTRACT_BODY = b'{"object": "unexpected", "id": null, "data": "not a list"}'


class FaultSettings(BaseModel):
    """The faults of one system. Every field is optional; the defaults inject nothing."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    latency_ms: float = Field(default=0.0, ge=0, le=600_000, description="added to every answer")
    jitter_ms: float = Field(
        default=0.0, ge=0, le=600_000, description="a uniform random 0..jitter_ms added on top"
    )
    error_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of requests answered error_status"
    )
    error_status: Literal[500, 503] = Field(default=500, description="status of injected errors")
    rate_limit_retry_after: int | None = Field(
        default=None, ge=0, le=86_400, description="set: every request gets 429 and Retry-After"
    )
    hang: bool = Field(default=False, description="requests never answer until cleared")
    malformed_json: bool = Field(default=False, description="200 with a body that is not JSON")
    contract: bool = Field(
        default=False, description="200 with JSON that violates the vendor's payload shape"
    )


class SystemControl:
    """One system's faults and statistics, shared by its middleware and control routes."""

    def __init__(
        self,
        name: str,
        errors: VendorErrors,
        faults: FaultSettings | None = None,
        seed: int = 0,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self.name = name
        #: The system's own clock (its records' times), which ``/_sandbox/clock`` moves.
        self.clock = SandboxClock()
        #: Where this system's changes are sent as webhooks (billing, CRM and support).
        self.outbox = outbox if outbox is not None else WebhookOutbox()
        self.errors = errors
        self._faults = faults or FaultSettings()
        # Seeded so that a given sequence of requests meets the same injected errors.
        self._rng = random.Random(f"{name}:{seed}")
        self._release = asyncio.Event()
        self._closed = False
        self.requests: Counter[str] = Counter()
        self.log: deque[JSON] = deque(maxlen=LOG_SIZE)
        self.in_flight = 0

    @property
    def faults(self) -> FaultSettings:
        """The faults in force now."""
        return self._faults

    def set_faults(self, faults: FaultSettings) -> None:
        """Replace every fault; requests hanging are released unless ``faults.hang``."""
        self._faults = faults
        if not faults.hang:
            self._release_hanging()

    def clear_faults(self) -> None:
        """Back to no faults; hanging requests are released (and then answered normally)."""
        self.set_faults(FaultSettings())

    def close(self) -> None:
        """Release every hanging request for good (shutdown): nothing hangs after this."""
        self._closed = True
        self._release_hanging()

    def reset_stats(self) -> None:
        """Forget every count and log entry."""
        self.requests.clear()
        self.log.clear()
        if self.name in WEBHOOK_SYSTEMS:
            self.outbox.reset_counts(self.name)

    def stats(self) -> JSON:
        """Counts by ``METHOD route``, the log of answered requests (oldest first) and, for
        the systems that send webhooks, their delivery counts."""
        stats: JSON = {"requests": dict(self.requests), "log": list(self.log)}
        if self.name in WEBHOOK_SYSTEMS:
            stats["webhooks"] = self.outbox.stats(self.name)
        return stats

    def roll_error(self, rate: float) -> bool:
        """Whether this request is one of the ``rate`` share that fails."""
        return rate > 0 and self._rng.random() < rate

    def jitter(self, jitter_ms: float) -> float:
        """A random extra latency in [0, jitter_ms]."""
        return self._rng.uniform(0, jitter_ms) if jitter_ms > 0 else 0.0

    def _release_hanging(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    async def wait_until_released(self, receive: Receive) -> Receive | None:
        """Hang until faults are cleared; None if the client disconnects first.

        Listening for the disconnect means reading the request body, so what was read is
        handed back through the returned ``receive`` for the endpoint to read again.
        """
        if self._closed:
            return receive
        released = asyncio.ensure_future(self._release.wait())
        buffered: list[Message] = []
        listener: asyncio.Future[Message] | None = None
        try:
            while True:
                listener = asyncio.ensure_future(receive())
                done, _ = await asyncio.wait(
                    {released, listener}, return_when=asyncio.FIRST_COMPLETED
                )
                if listener in done:
                    message = listener.result()
                    listener = None
                    if message["type"] == "http.disconnect":
                        return None
                    buffered.append(message)
                if released in done:
                    return _replay(buffered, receive)
        finally:
            released.cancel()
            if listener is not None:
                listener.cancel()


def _replay(buffered: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    return replay


class ControlMiddleware:
    """Counts, logs and faults every vendor request of one system (ASGI middleware)."""

    def __init__(self, app: ASGIApp, control: SystemControl, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.control = control
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        template = route_template(self.routes, scope)
        if is_public(template):
            await self.app(scope, receive, send)
            return
        control = self.control
        route = f"{scope['method']} {template or _route_path(scope)}"
        control.requests[route] += 1
        status = CLIENT_CLOSED

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = time.time()
        control.in_flight += 1
        try:
            await self._answer(scope, receive, send_and_note)
        except Exception:
            # Starlette's outermost middleware turns the exception into a 500.
            if status == CLIENT_CLOSED:
                status = 500
            raise
        finally:
            control.in_flight -= 1
            control.log.append(
                {
                    "route": route,
                    "started": started,
                    "ended": time.time(),
                    "status": status,
                    "request_id": Headers(scope=scope).get("x-request-id"),
                    "traceparent": Headers(scope=scope).get("traceparent"),
                }
            )

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        control = self.control
        faults = control.faults
        delay_ms = faults.latency_ms + control.jitter(faults.jitter_ms)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if control.faults.hang:
            replay = await control.wait_until_released(receive)
            if replay is None:
                return
            receive = replay
        # Read again: the faults may have changed while this request slept or hung.
        faults = control.faults
        response: Response | None = None
        if faults.rate_limit_retry_after is not None:
            response = control.errors.rate_limited(faults.rate_limit_retry_after).response()
        elif control.roll_error(faults.error_rate):
            response = control.errors.server_error(faults.error_status).response()
        elif faults.malformed_json:
            response = Response(MALFORMED_BODY, media_type="application/json")
        elif faults.contract:
            response = Response(CONTRACT_BODY, media_type="application/json")
        if response is not None:
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The request path below the system's mount point (how the system's routes see it)."""
    path = str(scope["path"])
    root_path = str(scope.get("root_path", ""))
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def control_routes(control: SystemControl) -> list[Route]:
    """The ``/_sandbox`` routes of one system."""

    async def get_faults(request: Request) -> Response:
        return JsonResponse(control.faults.model_dump())

    async def set_faults(request: Request) -> Response:
        body = await request.body()
        try:
            faults = FaultSettings.model_validate_json(body or b"null")
        except ValidationError as exc:
            return JsonResponse(
                {"error": "invalid faults", "message": describe_errors(exc.errors())},
                status_code=400,
            )
        control.set_faults(faults)
        return JsonResponse(control.faults.model_dump())

    async def clear_faults(request: Request) -> Response:
        control.clear_faults()
        return JsonResponse(control.faults.model_dump())

    async def get_stats(request: Request) -> Response:
        return JsonResponse(control.stats())

    async def reset_stats(request: Request) -> Response:
        control.reset_stats()
        return JsonResponse(control.stats())

    return [
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/faults", set_faults, methods=["POST"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/stats", get_stats, methods=["GET"]),
        Route("/_sandbox/stats", reset_stats, methods=["DELETE"]),
    ]


def describe_errors(errors: Sequence[Any]) -> str:
    """pydantic's errors as one line: ``<field>: <why>; ...``."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


CONTROL_SCHEMAS: dict[str, JSON] = {
    "Faults": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "latency_ms": {**NUMBER, "minimum": 0},
            "jitter_ms": {**NUMBER, "minimum": 0},
            "error_rate": {**NUMBER, "minimum": 0, "maximum": 1},
            "error_status": {"enum": [500, 503]},
            "rate_limit_retry_after": nullable({**INTEGER, "minimum": 0}),
            "hang": BOOLEAN,
            "malformed_json": BOOLEAN,
            "contract": BOOLEAN,
        },
    },
    "Stats": obj(
        {
            "requests": {"type": "object", "additionalProperties": INTEGER},
            "log": {
                "type": "array",
                "items": obj(
                    {
                        "route": STRING,
                        "started": NUMBER,
                        "ended": NUMBER,
                        "status": INTEGER,
                        "request_id": nullable(STRING),
                        "traceparent": nullable(STRING),
                    }
                ),
            },
        }
    ),
    "ControlError": obj({"error": STRING, "message": STRING}),
}

_TAG = "sandbox control"
_FAULTS = ("The faults in force", ref("Faults"))
_STATS = ("Request counts and log", ref("Stats"))

CONTROL_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/_sandbox/faults", "Show the faults", {200: _FAULTS}, public=True, tag=_TAG),
    Operation(
        "POST",
        "/_sandbox/faults",
        "Replace the faults (fields left out take their defaults)",
        {200: _FAULTS, 400: ("Not a faults object", ref("ControlError"))},
        body=ref("Faults"),
        public=True,
        tag=_TAG,
    ),
    Operation(
        "DELETE",
        "/_sandbox/faults",
        "Clear the faults and release hanging requests",
        {200: _FAULTS},
        public=True,
        tag=_TAG,
    ),
    Operation("GET", "/_sandbox/stats", "Show the stats", {200: _STATS}, public=True, tag=_TAG),
    Operation("DELETE", "/_sandbox/stats", "Reset the stats", {200: _STATS}, public=True, tag=_TAG),
)
