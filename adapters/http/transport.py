"""httpx's API over aiohttp's connection handling: the upstream calls' transport.

Measured on the reference machine (``bench/``, and a loop of GETs against the sandbox), a call
through httpx's own transport (httpcore + anyio + h11) costs the gateway about 0.65-0.95 ms of
CPU; through aiohttp's C-accelerated HTTP parser and connection pool about 0.35 ms. Upstream
calls are most of the gateway's CPU per query, so the adapters keep the httpx API (clients,
``MockTransport`` in tests, one error translation in ``adapters.http.errors``) and production sends
the bytes with aiohttp.

Why by hand rather than the ``httpx-aiohttp`` package: that package maps a refused connection
(``aiohttp.ClientConnectorError``) to ``httpx.ConnectTimeout``, which would report a source
that is down as ``UPSTREAM_TIMEOUT``; and it is forty lines of what we need. Here each aiohttp
failure becomes the httpx exception that says the same thing, so ``adapters.http.errors`` translates
it exactly as it does for httpx's own transport.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
import httpx


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """What a system answered, as it came: status, raw header pairs and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    content: bytes

    def as_httpx(self) -> httpx.Response:
        """The answer as an ``httpx.Response`` (for error handling written against httpx).

        Without ``Content-Encoding``: ``send`` hands over bodies already decompressed.
        """
        return httpx.Response(
            status_code=self.status,
            headers=[(k, v) for k, v in self.headers if k.lower() != b"content-encoding"],
            content=self.content,
        )


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An ``httpx.AsyncBaseTransport`` that sends with one ``aiohttp.ClientSession``.

    The session (and its connection pool) is created on the first request, inside the
    running event loop, and closed with the client (``aclose``). Bodies are read whole: the
    vendors answer JSON documents, never streams.
    """

    def __init__(self, *, max_connections: int = 100, keepalive_seconds: float = 15.0) -> None:
        self._max_connections = max_connections
        self._keepalive_seconds = keepalive_seconds
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, keepalive_timeout=self._keepalive_seconds
            )
            # No cookie jar: upstream calls carry their credentials in headers, and a cookie
            # set by one vendor answer must never ride along on the next customer's call.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        try:
            raw = await self.send(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                body=request.content or None,
                connect_timeout=timeouts.get("connect"),
                read_timeout=timeouts.get("read"),
                # httpx decodes the body by its Content-Encoding, as with its own transport.
                decompress=False,
            )
        except httpx.RequestError as exc:
            exc.request = request
            raise
        return httpx.Response(
            status_code=raw.status, headers=raw.headers, content=raw.content, request=request
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | list[tuple[str, str]],
        body: bytes | None,
        connect_timeout: float | None,
        read_timeout: float | None,
        decompress: bool = True,
    ) -> RawAnswer:
        """One request, without building httpx's request and response objects.

        ``adapters.http.client`` sends this way when its client is the one ``build_client`` made:
        httpx's client pipeline (URL merging, auth and redirect flows, cookie extraction)
        costs about as much CPU as the rest of the call. Failures are raised as the httpx
        exceptions that say the same thing, so they are translated in one place.
        """
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        try:
            async with self._get_session().request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                auto_decompress=decompress,
                timeout=timeout,
            ) as answer:
                content = await answer.read()
                return RawAnswer(answer.status, list(answer.raw_headers), content)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout("connect timed out") from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout("read timed out") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError("connection failed") from exc
        except aiohttp.ClientPayloadError as exc:
            raise httpx.ReadError("answer cut short") from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError("connection lost") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
