"""What every system's endpoints share: JSON responses, vendor errors, parameter parsing.

Endpoints raise ``VendorError`` (built by the vendor's own error functions, so the body is
in that vendor's shape); the system app renders it. Parsing helpers take the vendor's
"invalid parameter" function for the same reason.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

JSON = dict[str, Any]


class JsonResponse(Response):
    """A JSON response rendered with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """The body, serialised by orjson."""
        return orjson.dumps(content)


class VendorError(Exception):
    """An error answer with a vendor-shaped body; raising it from an endpoint sends it."""

    def __init__(self, status: int, body: JSON, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The HTTP response that carries this error."""
        return JsonResponse(self.body, status_code=self.status, headers=self.headers)


@dataclass(frozen=True, slots=True)
class VendorErrors:
    """How one vendor words the errors raised by the machinery all systems share."""

    #: Missing or wrong API key (401).
    unauthorized: Callable[[], VendorError]
    #: An injected server failure, with the status to answer (500 or 503).
    server_error: Callable[[int], VendorError]
    #: An injected rate limit, with the Retry-After seconds (429).
    rate_limited: Callable[[int], VendorError]
    #: No such route (404) or method (405), with a message naming them.
    unknown_route: Callable[[int, str], VendorError]


def iso(timestamp: int) -> str:
    """Unix seconds as ISO 8601 UTC, the way CRM, support and IVR write timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


def now_iso() -> str:
    """The current time as ISO 8601 UTC with milliseconds (for request metadata only)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def system_base_url(request: Request) -> str:
    """The absolute URL a system is mounted at (``http://host:8100/billing``)."""
    root_path = str(request.scope.get("root_path", ""))
    return f"{request.url.scheme}://{request.url.netloc}{root_path}"


def query_int(
    request: Request,
    name: str,
    *,
    default: int,
    low: int,
    high: int,
    invalid: Callable[[str], VendorError],
) -> int:
    """An integer query parameter within [low, high]; ``invalid(message)`` otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid integer: {raw}") from None
    if not low <= value <= high:
        raise invalid(f"{name} must be between {low} and {high}, got {value}")
    return value


def encode_cursor(*parts: int | str) -> str:
    """An opaque cursor for a position in a listing (URL-safe, no padding)."""
    return base64.urlsafe_b64encode(orjson.dumps(parts)).rstrip(b"=").decode()


def decode_cursor(token: str) -> list[Any]:
    """The parts ``encode_cursor`` was given; ``ValueError`` if ``token`` is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parts = orjson.loads(raw)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(parts, list):
        raise ValueError("not a cursor")
    return parts


async def read_json_object(request: Request, invalid: Callable[[str], VendorError]) -> JSON:
    """The request body as a JSON object; ``invalid(message)`` if it is anything else."""
    body = await request.body()
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise invalid("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object")
    return data
