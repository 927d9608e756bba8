"""GraphQL over WebSocket (graphql-transport-ws): the bearer token in ``connection_init``.

A browser cannot set headers on a WebSocket, so the desktop sends its bearer token (and, if
it acts within a call, its interaction token) in the ``connection_init`` payload, as Apollo
Client's and urql's ``connectionParams``: ``{"authorization": "Bearer <token>",
"x-interaction-token": "<token>"}``. They are verified exactly as the HTTP headers are
(``app.http.graphql``); until they are, strawberry runs no operation, and a connection whose
tokens are refused is closed with 4403 (the protocol's "Forbidden").

Heartbeats are the protocol's own: a client's ``ping`` is answered with ``pong``
(strawberry); a connection that sends no ``connection_init`` in time is closed (4408).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from resolvers.context import RequestContext

logger = logging.getLogger(__name__)

#: What the close frame says when the tokens are refused (the reason stays generic: the
#: detail is for the server's log, never a hint to whoever probes).
FORBIDDEN = 4403


class TextFrames(ASGIWebSocketAdapter):
    """Sends every message as a text frame, as graphql-transport-ws requires (browsers'
    clients parse ``event.data`` as a string): the view encodes JSON to bytes (orjson), which
    strawberry would send as binary frames."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class ConnectionRefused(Exception):
    """The tokens of a ``connection_init`` are missing or not valid (the reason is loggable)."""


class ConnectionOpener(Protocol):
    """The view's side: the context of a connection whose ``connection_init`` carried
    ``params``, verified as a request's headers would be; ``ConnectionRefused`` if not."""

    async def open_connection(
        self, websocket: WebSocket, params: Mapping[str, object]
    ) -> RequestContext: ...


class AuthenticatedTransportWS(BaseGraphQLTransportWSHandler[RequestContext, None]):
    """strawberry's graphql-transport-ws handler, whose ``connection_init`` authenticates."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        # Anything else (a second init, a payload that is no object) strawberry refuses.
        if isinstance(payload, dict) and not self.connection_init_received:
            opener: ConnectionOpener = self.view  # type: ignore[assignment]
            websocket: WebSocket = self.websocket.ws  # type: ignore[attr-defined]
            try:
                self.context = await opener.open_connection(websocket, _lowered(payload))
            except ConnectionRefused as exc:
                logger.info("WebSocket connection refused", extra={"reason": str(exc)})
                await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
                return
        await super().handle_connection_init(message)


def _lowered(payload: Mapping[str, Any]) -> dict[str, object]:
    """Header-like keys in lower case (``Authorization`` and ``authorization`` alike)."""
    return {str(key).lower(): value for key, value in payload.items()}
