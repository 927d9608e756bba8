"""A system's clock, which tests move: ``/_sandbox/clock`` sets it to a time, advances it,
or puts it back on the real time.

The system's own times (a ticket's ``created_at`` and ``updated_at``, its events' ``time``)
are read from it, so that a test can age records by days without waiting: set the clock
ten days back, open a ticket, advance it, change the ticket. What concerns the transport
(webhook signatures' timestamps, stats' times) stays on the real clock: a receiver checks
those against its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.openapi import NUMBER, STRING, Operation, obj, ref
from sandbox.responses import JSON, JsonResponse

#: How far either way a clock may be moved: a century is past any test's need.
MAX_SHIFT_SECONDS = 100 * 365 * 86_400


class SandboxClock:
    """The real time, shifted by an offset (none until a test moves it)."""

    def __init__(self, real: Callable[[], float] = time.time) -> None:
        self._real = real
        self.offset_seconds = 0.0

    def __call__(self) -> float:
        """Now, in epoch seconds, by this clock."""
        return self._real() + self.offset_seconds

    def set(self, at: datetime) -> None:
        """Now is ``at``; the clock runs on from there."""
        self.offset_seconds = at.timestamp() - self._real()

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on (back, when negative)."""
        self.offset_seconds += seconds

    def reset(self) -> None:
        """Back on the real time."""
        self.offset_seconds = 0.0

    def describe(self) -> JSON:
        return {
            "now": datetime.fromtimestamp(self(), UTC).isoformat(),
            "offset_seconds": self.offset_seconds,
        }


class ClockChange(BaseModel):
    """The body of ``POST /_sandbox/clock``: exactly one of ``at`` and ``advance_seconds``."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    at: AwareDatetime | None = Field(default=None, description="now is this time (with zone)")
    advance_seconds: float | None = Field(
        default=None,
        ge=-MAX_SHIFT_SECONDS,
        le=MAX_SHIFT_SECONDS,
        description="move the clock this many seconds on (back when negative)",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ClockChange:
        if (self.at is None) == (self.advance_seconds is None):
            raise ValueError("give exactly one of at and advance_seconds")
        return self


def clock_routes(clock: SandboxClock) -> list[Route]:
    """``GET``, ``POST`` and ``DELETE /_sandbox/clock`` of one system."""

    async def show(request: Request) -> Response:
        return JsonResponse(clock.describe())

    async def change(request: Request) -> Response:
        try:
            # JSON mode: the time arrives as an ISO 8601 string, as every sandbox time does.
            wanted = ClockChange.model_validate_json(await request.body() or b"null")
        except ValidationError as exc:
            message = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return JsonResponse({"error": "invalid clock", "message": message}, status_code=400)
        if wanted.at is not None:
            if abs(wanted.at.timestamp() - time.time()) > MAX_SHIFT_SECONDS:
                return JsonResponse(
                    {"error": "invalid clock", "message": "at: more than a century away"},
                    status_code=400,
                )
            clock.set(wanted.at)
        elif wanted.advance_seconds is not None:
            clock.advance(wanted.advance_seconds)
        return JsonResponse(clock.describe())

    async def reset(request: Request) -> Response:
        clock.reset()
        return JsonResponse(clock.describe())

    return [
        Route("/_sandbox/clock", show, methods=["GET"]),
        Route("/_sandbox/clock", change, methods=["POST"]),
        Route("/_sandbox/clock", reset, methods=["DELETE"]),
    ]


CLOCK_SCHEMAS: dict[str, JSON] = {
    "Clock": obj({"now": STRING, "offset_seconds": NUMBER}),
    "ClockChange": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "at": {**STRING, "format": "date-time"},
            "advance_seconds": {
                **NUMBER,
                "minimum": -MAX_SHIFT_SECONDS,
                "maximum": MAX_SHIFT_SECONDS,
            },
        },
    },
}

_TAG = "sandbox control"
_CLOCK = ("The system's clock: now by it, and its offset from the real time", ref("Clock"))

CLOCK_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/_sandbox/clock", "Show the clock", {200: _CLOCK}, public=True, tag=_TAG),
    Operation(
        "POST",
        "/_sandbox/clock",
        "Set the clock to `at`, or move it `advance_seconds` on (exactly one of them)",
        {200: _CLOCK, 400: ("Not a clock change", ref("ControlError"))},
        body=ref("ClockChange"),
        public=True,
        tag=_TAG,
    ),
    Operation(
        "DELETE",
        "/_sandbox/clock",
        "Put the clock back on the real time",
        {200: _CLOCK},
        public=True,
        tag=_TAG,
    ),
)
