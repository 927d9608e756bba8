"""Draining: a worker told to stop (SIGTERM) hands its clients over before it closes.

uvicorn's own graceful shutdown stops accepting, lets the requests under way finish and
closes every idle keep-alive connection at once. That last step races the clients: one that
sends its next request on such a connection just as it closes gets no answer (a ``ReadError``
under load in tests/e2e/test_rolling_restart.py). So before uvicorn's shutdown begins, a
draining worker

1. stops accepting: the listening socket is shared with the other workers, which take every
   new connection from then on;
2. answers every request on the connections it still holds with ``Connection: close``, so
   each client's next request opens a new connection, to another worker;
3. hands over to uvicorn's shutdown once it holds no connection, or after
   ``SCV_SHUTDOWN_DRAIN_SECONDS`` (a client idle that long gets its connection closed as it
   would by the keep-alive timeout).

It needs uvicorn's ``Server`` (whose handler is on SIGTERM while it serves, in the main
thread): it finds it there, in ``drain_on_sigterm``, when the app starts. Anywhere else (an
app under test, in another server) it does nothing. A second SIGTERM stops at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn import Server

logger = logging.getLogger(__name__)

#: How often a draining worker looks whether its clients have all gone.
_POLL_SECONDS = 0.05

SignalHandler = Callable[[int, FrameType | None], Any]


class Draining:
    """Whether this worker is draining, and for how long it may."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = False


class CloseWhenDraining:
    """ASGI middleware: ``Connection: close`` on every response once draining has started."""

    def __init__(self, app: ASGIApp, draining: Draining) -> None:
        self._app = app
        self._draining = draining

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        draining = self._draining

        async def send_closing(message: Message) -> None:
            if draining.started and message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self._app(scope, receive, send_closing)


@contextlib.contextmanager
def drain_on_sigterm(draining: Draining) -> Iterator[None]:
    """While the app runs: SIGTERM drains first, then starts uvicorn's own shutdown."""
    if draining.seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    server = getattr(previous, "__self__", None)
    if not isinstance(server, Server) or not callable(previous):
        yield  # not uvicorn's handler: nothing of ours to drain
        return
    loop = asyncio.get_running_loop()
    stop: SignalHandler = previous

    def on_sigterm(sig: int, frame: FrameType | None) -> None:
        if draining.started:
            stop(sig, frame)
            return
        draining.started = True
        # In a signal handler: only schedule; the loop does the work.
        loop.call_soon_threadsafe(lambda: loop.create_task(_drain(server, draining, stop, sig)))

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


async def _drain(server: Server, draining: Draining, stop: SignalHandler, sig: int) -> None:
    for listener in getattr(server, "servers", []):
        listener.close()
    # uvicorn's own set of the connections it holds: the protocols add and remove themselves,
    # and tell no one, so it is looked at, not awaited.
    connections: set[object] = getattr(getattr(server, "server_state", None), "connections", set())
    deadline = asyncio.get_running_loop().time() + draining.seconds
    while connections and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(_POLL_SECONDS)
    if connections:
        logger.info("draining ended with idle connections", extra={"count": len(connections)})
    stop(sig, None)
