"""A draining worker tells every client to reconnect: ``Connection: close`` on its answers."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.http.draining import CloseWhenDraining, Draining, drain_on_sigterm


def app(draining: Draining) -> CloseWhenDraining:
    async def hello(_: object) -> PlainTextResponse:
        return PlainTextResponse("hello", headers={"Connection": "keep-alive"})

    return CloseWhenDraining(Starlette(routes=[Route("/", hello)]), draining)


async def answer(draining: Draining) -> httpx.Response:
    transport = httpx.ASGITransport(app=app(draining))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get("/")


async def test_connections_are_kept_until_draining_starts() -> None:
    response = await answer(Draining(2.0))
    assert response.headers["connection"] == "keep-alive"


async def test_once_draining_every_answer_closes_its_connection() -> None:
    draining = Draining(2.0)
    draining.started = True
    response = await answer(draining)
    assert response.headers.get_list("connection") == ["close"]
    assert response.text == "hello"


async def test_outside_uvicorn_the_signal_is_left_alone() -> None:
    import signal

    before = signal.getsignal(signal.SIGTERM)
    with drain_on_sigterm(Draining(2.0)):
        assert signal.getsignal(signal.SIGTERM) is before
