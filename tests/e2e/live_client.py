"""A graphql-transport-ws client for tests: what Apollo Client or urql would speak, over a
real WebSocket (the ``websockets`` library), one connection, several subscriptions."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
#: The longest a test waits for a message it expects (not a speed assertion: a bound on
#: how long a broken test hangs).
WAIT_SECONDS = 15.0


class Closed(Exception):
    """The server closed the connection (``code`` and ``reason`` as it sent them)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class LiveClient:
    """One acknowledged connection; ``subscribe`` starts an operation, ``next`` reads it."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._ids = itertools.count(1)
        self._inbox: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())
        self.pongs = 0
        self.closed: Closed | None = None

    async def subscribe(self, query: str, **variables: Any) -> str:
        operation = str(next(self._ids))
        self._inbox[operation] = asyncio.Queue()
        await self._send(
            {
                "id": operation,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables},
            }
        )
        return operation

    async def next(self, operation: str) -> dict[str, Any]:
        """The next message of ``operation``: ``next`` (its payload), ``error`` or ``complete``."""
        return await asyncio.wait_for(self._inbox[operation].get(), WAIT_SECONDS)

    async def data(self, operation: str) -> dict[str, Any]:
        """The data of the next ``next`` message of ``operation`` (the test fails otherwise)."""
        message = await self.next(operation)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message["payload"]
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def ping(self) -> None:
        await self._send({"type": "ping"})

    async def round_trip(self) -> None:
        """A ping answered: the server has sent this connection everything it sent before."""
        pongs = self.pongs
        await self.ping()
        async with asyncio.timeout(WAIT_SECONDS):
            while self.pongs == pongs:  # noqa: ASYNC110 - the reader task counts the pongs
                await asyncio.sleep(0.01)

    def pending(self, operation: str) -> list[dict[str, Any]]:
        """The messages of ``operation`` received and not read yet (none waited for)."""
        inbox = self._inbox[operation]
        return [inbox.get_nowait() for _ in range(inbox.qsize())]

    async def complete(self, operation: str) -> None:
        await self._send({"id": operation, "type": "complete"})

    async def wait_closed(self) -> Closed:
        await asyncio.wait_for(asyncio.shield(self._reader), WAIT_SECONDS)
        assert self.closed is not None
        return self.closed

    async def _send(self, message: Mapping[str, Any]) -> None:
        await self._connection.send(orjson.dumps(message).decode())

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                message = orjson.loads(raw)
                if not isinstance(raw, str):
                    # graphql-transport-ws speaks text frames; a browser's client reads no
                    # other: the operation's next read fails on this.
                    message = {"type": "binary frame", "id": message.get("id")}
                if message["type"] == "pong":
                    self.pongs += 1
                elif "id" in message and message["id"] in self._inbox:
                    self._inbox[message["id"]].put_nowait(message)
        except ConnectionClosed:
            pass
        received = self._connection.close_rcvd
        self.closed = Closed(
            received.code if received else None, received.reason if received else ""
        )
        for inbox in self._inbox.values():
            inbox.put_nowait({"type": "closed", "code": self.closed.code})


@asynccontextmanager
async def live_client(
    gateway_url: str, token: str | None, **params: str
) -> AsyncIterator[LiveClient]:
    """A connection to ``gateway_url``'s /graphql, initialised with ``token`` (and ``params``:
    ``x-interaction-token``, ...); the ack is awaited unless the server refuses."""
    url = gateway_url.replace("http://", "ws://") + "/graphql"
    init: dict[str, Any] = dict(params)
    if token is not None:
        init["authorization"] = f"Bearer {token}"
    async with connect(url, subprotocols=[PROTOCOL]) as connection:  # type: ignore[list-item]
        await connection.send(orjson.dumps({"type": "connection_init", "payload": init}).decode())
        try:
            raw = await asyncio.wait_for(connection.recv(), WAIT_SECONDS)
            assert isinstance(raw, str), "graphql-transport-ws speaks text frames"
            ack = orjson.loads(raw)
        except ConnectionClosed as exc:
            received = exc.rcvd
            raise Closed(
                received.code if received else None, received.reason if received else ""
            ) from exc
        assert ack["type"] == "connection_ack", ack
        client = LiveClient(connection)
        try:
            yield client
        finally:
            client._reader.cancel()
