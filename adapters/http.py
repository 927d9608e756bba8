"""The one place that speaks HTTP to the systems of record and translates its failures.

Every adapter sends its requests through ``UpstreamHttp`` and parses what comes back with
``UpstreamHttp.parse``; both raise only the error tree of ``adapters.errors``, always
``from`` the lower-level exception. Messages are built from status codes and the vendor's
error *type* or *category* only: URLs, hosts, keys and the vendor's free text (which can
echo an email or a phone number back) never reach them, because they may reach a client.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from adapters.config import SourceSettings
from adapters.errors import (
    UpstreamContractError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from adapters.models import Source

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: Pulls the vendor's error type/code/category out of a parsed error body, or None.
ErrorDescriber = Callable[[Any], str | None]
Params = Mapping[str, str | int]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

#: Headers added to every upstream request made in the current context, such as
#: ``X-Request-Id``: the app sets them per incoming request without the adapter
#: Protocols having to carry them.
outbound_headers: ContextVar[Mapping[str, str] | None] = ContextVar(
    "outbound_headers", default=None
)

#: Told of every upstream request made in the current context, once it is over: the
#: source, the seconds it took, and the error code it raised (None when it succeeded).
#: The app sets one per incoming request to feed metrics, health and the access log;
#: a callback rather than an import keeps adapters/ free of app/.
UpstreamObserver = Callable[[Source, float, str | None], None]
upstream_observer: ContextVar[UpstreamObserver | None] = ContextVar(
    "upstream_observer", default=None
)
#: The observer's error code for a request that did not finish: cancelled (a deadline, a
#: sibling panel failing) or stopped by a defect, neither of which the source caused.
ABORTED = "ABORTED"

# A vendor's error type is echoed only if it looks like an identifier: free text could
# carry personal data, and an identifier cannot.
_SAFE_DETAIL = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: the default clock of every adapter."""
    return datetime.now(UTC)


def build_client(
    settings: SourceSettings,
    auth_headers: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for one source: its base URL, timeouts and credentials.

    ``transport`` lets tests hand in ``httpx.MockTransport``. The caller owns the client
    and closes it (the app does so in its lifespan).
    """
    return httpx.AsyncClient(
        base_url=settings.base_url,
        # Write and pool waits are bounded by the read timeout: none of them should outlast
        # the time we are prepared to wait for an answer.
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        headers={"Accept": "application/json", **auth_headers},
        transport=transport,
    )


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


class UpstreamHttp:
    """Sends one source's requests and turns every failure into the error tree."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: Source,
        describe_error: ErrorDescriber,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self._client = client
        self.source = source
        self._describe_error = describe_error
        self._clock = clock

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The parsed JSON body of a 2xx answer; any other outcome raises ``UpstreamError``.

        The ``upstream_observer`` of the context, if any, is told how it went.
        """
        observer = upstream_observer.get()
        if observer is None:
            return await self._send(method, path, params=params, json=json, headers=headers)
        started = time.perf_counter()
        outcome: str | None = ABORTED
        try:
            result = await self._send(method, path, params=params, json=json, headers=headers)
        except UpstreamError as exc:
            outcome = exc.code
            raise
        else:
            outcome = None
            return result
        finally:
            observer(self.source, time.perf_counter() - started, outcome)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        headers: Mapping[str, str] | None,
    ) -> Any:
        request_headers = {**(outbound_headers.get() or {}), **(headers or {})}
        try:
            response = await self._client.request(
                method, path, params=params, json=json, headers=request_headers
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(self.source, "no answer within the timeout") from exc
        except httpx.DecodingError as exc:
            raise UpstreamContractError(self.source, "answered an undecodable body") from exc
        except httpx.RequestError as exc:
            # The exception's own text names the host; its class name is enough to act on.
            raise UpstreamUnavailable(
                self.source, f"request failed ({type(exc).__name__})"
            ) from exc
        if not response.is_success:
            raise self._status_error(response)
        try:
            return response.json()
        except ValueError as exc:
            raise UpstreamContractError(self.source, "answered a body that is not JSON") from exc

    def segment(self, value: str) -> str:
        """``value`` quoted as one path segment, so that an id cannot change the route.

        ``""``, ``.`` and ``..`` survive quoting but would address another resource (or be
        removed by URL normalisation): no record has such an id, so they are not found.
        """
        segment = quote(value, safe="")
        if segment in {"", ".", ".."}:
            raise UpstreamNotFound(self.source, "no record has an empty or dot id")
        return segment

    def parse(self, model: type[M], payload: Any, resource: str) -> M:
        """``payload`` validated as the vendor's ``model``; ``UpstreamContractError`` if not.

        The message names only the resource; the failing field paths go to the log, and
        the offending values go nowhere.
        """
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            logger.warning(
                "upstream payload failed validation",
                extra={
                    "source": self.source.value,
                    "resource": resource,
                    "fields": [".".join(map(str, e["loc"])) for e in exc.errors()[:10]],
                },
            )
            raise UpstreamContractError(
                self.source, f"{resource} payload failed validation"
            ) from exc

    async def request_model(
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        resource: str,
        params: Params | None = None,
        json: Any = None,
    ) -> M:
        """``request_json`` then ``parse``: one request, one validated vendor model."""
        payload = await self.request_json(method, path, params=params, json=json)
        return self.parse(model, payload, resource)

    def _status_error(self, response: httpx.Response) -> Exception:
        status = response.status_code
        message = f"answered HTTP {status}"
        detail = self._error_detail(response)
        if detail:
            message = f"{message} ({detail})"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
            return UpstreamRateLimited(self.source, message, retry_after=retry_after)
        if status >= 500:
            return UpstreamUnavailable(self.source, message)
        if status == 404:
            return UpstreamNotFound(self.source, message)
        if status >= 400:
            return UpstreamRejected(self.source, message)
        # 1xx and 3xx (redirects are not followed): not an answer any vendor documents.
        return UpstreamContractError(self.source, message)

    def _error_detail(self, response: httpx.Response) -> str | None:
        try:
            detail = self._describe_error(response.json())
        except ValueError:
            return None
        if detail and _SAFE_DETAIL.fullmatch(detail):
            return detail
        return None


async def gather_requests(requests: Iterable[Awaitable[R]]) -> list[R]:
    """The results of ``requests`` run concurrently; the first failure cancels the rest.

    ``asyncio.gather`` alone would leave the others running after one failed, and a
    ``TaskGroup`` would wrap the ``UpstreamError`` in an ``ExceptionGroup``.
    """
    tasks = [asyncio.ensure_future(request) for request in requests]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
