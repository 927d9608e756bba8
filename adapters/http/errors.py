"""How a failed upstream call is named in the error tree of ``kernel.errors``.

``UpstreamHttp`` raises what these functions return, always ``from`` the lower-level
exception. Messages are built from status codes and the vendor's error *type* or
*category* only: URLs, hosts, keys and the vendor's free text (which can echo an email or a
phone number back) never reach them, because they may reach a client.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

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

#: Pulls the vendor's error type/code/category out of a parsed error body, or None.
ErrorDescriber = Callable[[Any], str | None]

# A vendor's error type is echoed only if it looks like an identifier: free text could
# carry personal data, and an identifier cannot.
_SAFE_DETAIL = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def request_error(source: Source, exc: httpx.RequestError | TimeoutError) -> UpstreamError:
    """What a call that got no answer raises: ``exc`` is httpx's failure or the deadline's."""
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(source, "no answer within the timeout")
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(source, "no answer before the request's deadline")
    if isinstance(exc, httpx.DecodingError):
        return UpstreamContractError(source, "answered an undecodable body")
    # The exception's own text names the host; its class name is enough to act on.
    return UpstreamUnavailable(source, f"request failed ({type(exc).__name__})")


def status_error(
    source: Source,
    response: httpx.Response,
    describe_error: ErrorDescriber,
    clock: Callable[[], datetime],
) -> UpstreamError:
    """What a call answered with a status other than 2xx raises."""
    status = response.status_code
    message = f"answered HTTP {status}"
    detail = _error_detail(response, describe_error)
    if detail:
        message = f"{message} ({detail})"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), clock())
        return UpstreamRateLimited(source, message, retry_after=retry_after)
    if status >= 500:
        return UpstreamUnavailable(source, message)
    if status == 404:
        return UpstreamNotFound(source, message)
    if status >= 400:
        return UpstreamRejected(source, message)
    # 1xx and 3xx (redirects are not followed): not an answer any vendor documents.
    return UpstreamContractError(source, message)


def _error_detail(response: httpx.Response, describe_error: ErrorDescriber) -> str | None:
    try:
        detail = describe_error(response.json())
    except ValueError:
        return None
    if detail and _SAFE_DETAIL.fullmatch(detail):
        return detail
    return None


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # RFC 9110 dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
