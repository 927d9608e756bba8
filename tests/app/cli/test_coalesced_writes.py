"""One write per response: the transport gathering a loop turn's writes, and uvicorn
serving through it over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.cli.coalesced_writes import CoalescingHttpToolsProtocol, CoalescingTransport


class RecordingTransport:
    """A transport at the boundary: what was written, call by call."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8000) if name == "sockname" else default


def wrapped() -> tuple[CoalescingTransport, RecordingTransport]:
    real = RecordingTransport()
    return CoalescingTransport(real), real  # type: ignore[arg-type]


async def test_the_writes_of_one_turn_go_out_as_one_in_order() -> None:
    transport, real = wrapped()
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b'{"data":')
    transport.writelines([b"1", b"}"])
    assert real.writes == []
    await asyncio.sleep(0)
    assert real.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"data":1}']


async def test_writes_of_later_turns_are_written_apart() -> None:
    transport, real = wrapped()
    transport.write(b"one")
    await asyncio.sleep(0)
    transport.write(b"two")
    await asyncio.sleep(0)
    assert real.writes == [b"one", b"two"]


async def test_closing_writes_what_is_kept_first() -> None:
    transport, real = wrapped()
    transport.write(b"last words")
    transport.close()
    assert real.events == ["write", "close"]
    await asyncio.sleep(0)
    assert real.writes == [b"last words"]


async def test_aborting_drops_what_is_kept() -> None:
    transport, real = wrapped()
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert real.events == ["abort"]


async def test_everything_else_is_the_real_transports() -> None:
    transport, _ = wrapped()
    assert transport.get_extra_info("sockname") == ("127.0.0.1", 8000)


async def test_uvicorn_answers_through_it_over_one_connection() -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"path": request.url.path, "body": (await request.body()).decode()})

    app = Starlette(routes=[Route("/{name}", echo, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, http=CoalescingHttpToolsProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    # The test session owns signals; uvicorn must not take Ctrl-C away from pytest.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            first = await client.post("/one", content=b"x" * 70_000)
            second = await client.post("/two", content=b"y")
        assert first.json() == {"path": "/one", "body": "x" * 70_000}
        assert second.json() == {"path": "/two", "body": "y"}
        assert first.headers["content-length"] == str(len(first.content))
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
