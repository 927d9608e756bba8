"""A switch in front of PostgreSQL: a TCP relay the tests turn off to take the store down.

Real PostgreSQL behind it, real connections through it; ``down()`` closes the listener and
every relayed connection, as a server that stopped would, and ``up()`` listens again.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


class StoreSwitch:
    """Relays ``127.0.0.1:<port>`` to the server of ``server_url`` (TCP or unix socket)."""

    def __init__(self, server_url: str) -> None:
        parts = urlsplit(server_url)
        query = dict(parse_qsl(parts.query))
        socket_dir = query.pop("host", None) or (parts.hostname or "")
        self._unix = (
            f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir.startswith("/") else None
        )
        self._tcp = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._parts = parts._replace(query=urlencode(query))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    def url(self) -> str:
        """``server_url`` through the switch (same user, password and database)."""
        user = self._parts.username or "postgres"
        password = f":{self._parts.password}" if self._parts.password else ""
        netloc = f"{user}{password}@127.0.0.1:{self.port}"
        return urlunsplit(self._parts._replace(netloc=netloc))

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._unix is not None:
            server_reader, server_writer = await asyncio.open_unix_connection(self._unix)
        else:
            server_reader, server_writer = await asyncio.open_connection(*self._tcp)
        self._writers |= {writer, server_writer}
        await asyncio.gather(
            _pipe(reader, server_writer), _pipe(server_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.close()
