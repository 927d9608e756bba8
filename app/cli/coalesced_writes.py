"""One write per response where uvicorn makes two: its HTTP protocol over a transport that
gathers the writes of one turn of the event loop into one.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``send``
system calls, one after the other, for every answer. On the loopback connections of a
gateway behind its load balancer, each costs the worker as much CPU as a small request's
parsing (``make profile``: the two writes were some 8% of a cold view's CPU). Here writes
are kept until the current callback returns (``loop.call_soon``) and then written as one;
closing, aborting or ending the stream writes what is kept first. Nothing is delayed past
the loop's turn, and the order of bytes on the wire is unchanged.

The transport is wrapped rather than uvicorn changed: everything but ``write``,
``writelines``, ``write_eof``, ``close`` and ``abort`` is the real transport's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """``transport`` whose writes of one loop turn go out as one."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._kept: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._kept.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Write what is kept, as one."""
        self._scheduled = False
        if not self._kept:
            return
        data = self._kept[0] if len(self._kept) == 1 else b"".join(self._kept)
        self._kept.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._kept.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing each response in one ``send``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]
