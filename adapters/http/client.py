"""The one place that speaks HTTP to the systems of record.

Every adapter sends its requests through ``UpstreamHttp`` and parses what comes back with
``UpstreamHttp.parse``; both raise only the error tree of ``kernel.errors``, always
``from`` the lower-level exception (``adapters.http.errors`` names each failure). Messages
are built from status codes and the vendor's error *type* or *category* only: URLs, hosts,
keys and the vendor's free text (which can echo an email or a phone number back) never
reach them, because they may reach a client.

Two hooks let ``app/`` shape every call without adapters importing it: ``request_deadline``
(a context variable of ``adapters.http.context``: the request's absolute deadline, which
caps every call's timeouts by the time left) and a ``CallPolicy`` handed to ``UpstreamHttp``
(retries, circuit breaker, bulkhead), told whether each call is idempotent and so safe to
repeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from adapters.http.context import ABORTED, outbound_headers, time_left, upstream_observer
from adapters.http.errors import ErrorDescriber, request_error, status_error
from adapters.http.transport import AiohttpTransport, RawAnswer
from adapters.settings import HttpSourceSettings
from kernel.errors import UpstreamContractError, UpstreamError, UpstreamNotFound, UpstreamTimeout
from kernel.models import Source

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Params = Mapping[str, str | int]

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

#: Methods that never change anything upstream, so a repeat is harmless. A POST that only
#: reads (a HubSpot search or batch read) is marked idempotent by its caller.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: One attempt at a call: sends the request once and returns the parsed JSON body.
Attempt = Callable[[], Awaitable[Any]]


class CallPolicy(Protocol):
    """Wraps every call to one source: how ``app/`` adds retries, a breaker and a bulkhead.

    ``attempt`` sends the request once (and may be awaited again for a retry);
    ``idempotent`` says whether repeating it is safe. A policy raises only the error tree.
    """

    async def call(self, attempt: Attempt, *, idempotent: bool) -> Any:
        """The result of ``attempt``, as the policy sees fit to obtain it."""
        ...


def capped_timeout(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """``timeout`` with every phase (connect, read, write, pool) at most ``seconds``."""

    def cap(value: float | None) -> float:
        return seconds if value is None else min(value, seconds)

    return httpx.Timeout(
        connect=cap(timeout.connect),
        read=cap(timeout.read),
        write=cap(timeout.write),
        pool=cap(timeout.pool),
    )


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC: the default clock of every adapter."""
    return datetime.now(UTC)


class SourceClient(httpx.AsyncClient):
    """The ``httpx.AsyncClient`` of one source as ``build_client`` makes it, and what
    ``UpstreamHttp`` needs to send past httpx's client pipeline: the aiohttp transport
    (None when a test handed in its own) and the headers every call carries."""

    def __init__(
        self,
        *,
        direct: AiohttpTransport | None,
        source_headers: Mapping[str, str],
        **options: Any,
    ) -> None:
        super().__init__(headers=source_headers, **options)
        self.direct = direct
        self.source_headers = dict(source_headers)

    def use_headers(self, headers: Mapping[str, str]) -> None:
        """Send ``headers`` (new credentials) from the next call on; a call under way keeps
        the ones it started with. Changed in place: ``UpstreamHttp`` holds this dict."""
        self.headers.update(headers)
        self.source_headers.update(headers)


def build_client(
    settings: HttpSourceSettings,
    auth_headers: Mapping[str, str],
    transport: httpx.AsyncBaseTransport | None = None,
) -> SourceClient:
    """An ``httpx.AsyncClient`` for one source: its base URL, timeouts and credentials.

    ``transport`` lets tests hand in ``httpx.MockTransport``; by default the bytes go
    through aiohttp (``adapters.http.transport``: a third of the CPU per call), and
    ``UpstreamHttp`` sends through it directly. The caller owns the client and closes it
    (the app does so in its lifespan).
    """
    chosen = transport if transport is not None else AiohttpTransport()
    return SourceClient(
        direct=chosen if isinstance(chosen, AiohttpTransport) else None,
        source_headers={"Accept": "application/json", **auth_headers},
        base_url=settings.base_url,
        # Write and pool waits are bounded by the read timeout: none of them should outlast
        # the time we are prepared to wait for an answer.
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        # Stateless: a cookie a vendor sets (load balancers do) never rides on later calls.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        transport=chosen,
    )


class UpstreamHttp:
    """Sends one source's requests and turns every failure into the error tree.

    ``policy``, when given, wraps every call (see ``CallPolicy``); without one each call is
    made once.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: Source,
        describe_error: ErrorDescriber,
        *,
        clock: Clock = utc_now,
        policy: CallPolicy | None = None,
    ) -> None:
        self._client = client
        direct = client if isinstance(client, SourceClient) else None
        self._direct = direct.direct if direct is not None else None
        self._headers = direct.source_headers if direct is not None else {}
        # httpx's merge: the base URL's path, then the request's path below it.
        self._base_url = str(client.base_url).rstrip("/")
        self.source = source
        self._describe_error = describe_error
        self._clock = clock
        self._policy = policy

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The parsed JSON body of a 2xx answer; any other outcome raises ``UpstreamError``.

        The body is ``json``, or ``form`` URL-encoded (the vendors that take forms: Stripe).

        ``idempotent`` (default: whether ``method`` is in ``IDEMPOTENT_METHODS``) tells the
        policy whether the call may be repeated. The ``upstream_observer`` of the context, if
        any, is told how each attempt went.
        """

        async def attempt() -> Any:
            return await self._attempt(
                method, path, params=params, json=json, form=form, headers=headers
            )

        if self._policy is None:
            return await attempt()
        safe = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        return await self._policy.call(attempt, idempotent=safe)

    async def _attempt(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Any:
        left = time_left()
        if left is not None and left <= 0:
            # Not sent, so not observed: the source had no part in it.
            raise UpstreamTimeout(self.source, "no time left before the request's deadline")
        observer = upstream_observer.get()
        if observer is None:
            return await self._send(
                method, path, params=params, json=json, form=form, headers=headers
            )
        started = time.perf_counter()
        outcome: str | None = ABORTED
        try:
            result = await self._send(
                method, path, params=params, json=json, form=form, headers=headers
            )
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
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
    ) -> Any:
        request_headers = {**(outbound_headers.get() or {}), **(headers or {})}
        left = time_left()
        timeout = (
            self._client.timeout if left is None else capped_timeout(self._client.timeout, left)
        )
        try:
            # httpx's timeouts bound each phase (connect, each read); the deadline bounds the
            # whole call, so a source that trickles its answer cannot outlast it either.
            async with asyncio.timeout(left):
                if self._direct is None:
                    response = await self._client.request(
                        method,
                        path,
                        params=params,
                        json=json,
                        data=form,
                        headers=request_headers,
                        timeout=timeout,
                    )
                    status, content = response.status_code, response.content
                else:
                    raw = await self._send_direct(
                        self._direct, method, path, params, json, form, request_headers, timeout
                    )
                    status, content = raw.status, raw.content
        except (httpx.RequestError, TimeoutError) as exc:
            raise request_error(self.source, exc) from exc
        if not 200 <= status < 300:
            answer = response if self._direct is None else raw.as_httpx()
            raise status_error(self.source, answer, self._describe_error, self._clock)
        try:
            # orjson: vendors answer UTF-8 JSON (RFC 8259), and lists of invoices or tickets
            # parse several times faster than with the standard library.
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamContractError(self.source, "answered a body that is not JSON") from exc

    async def _send_direct(
        self,
        transport: AiohttpTransport,
        method: str,
        path: str,
        params: Params | None,
        json: Any,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str],
        phases: httpx.Timeout,
    ) -> RawAnswer:
        """The call through aiohttp without httpx's client pipeline (``SourceClient``):
        the URL merged as httpx merges it, the source's headers, the JSON or form body."""
        url = path if "://" in path else f"{self._base_url}/{path.lstrip('/')}"
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
        sent = {**self._headers, **headers}
        body = None
        if json is not None:
            body = orjson.dumps(json)
            sent["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        return await transport.send(
            method,
            url,
            headers=sent,
            body=body,
            connect_timeout=phases.connect,
            read_timeout=phases.read,
        )

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
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> M:
        """``request_json`` then ``parse``: one request, one validated vendor model."""
        payload = await self.request_json(
            method,
            path,
            params=params,
            json=json,
            form=form,
            headers=headers,
            idempotent=idempotent,
        )
        return self.parse(model, payload, resource)


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
