"""Refuses a request body over a size with HTTP 413 before anything parses it.

Hand-written: Starlette has no body limit, and uvicorn's ``h11_max_incomplete_event_size``
bounds headers, not bodies. A declared ``Content-Length`` over the limit is refused without
reading a byte; a body sent without one (chunked) is read up to the limit, then refused.
What was read is replayed to the app behind, which reads it as if from the client.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope

CODE = "REQUEST_TOO_LARGE"


def too_large(limit: int) -> Response:
    """The 413 answer, in the GraphQL error shape the clients already read."""
    return JSONResponse(
        {
            "errors": [
                {
                    "message": f"the request body is larger than {limit} bytes",
                    "extensions": {"code": CODE, "limit": limit},
                }
            ]
        },
        status_code=413,
    )


async def limited_receive(scope: Scope, receive: Receive, limit: int) -> Receive | None:
    """A ``receive`` that replays a body of at most ``limit`` bytes; None when it is larger."""
    declared = _content_length(scope)
    if declared is not None and declared > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            # The client went away: let the app behind see it as it would have.
            return _replay([message], receive)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return _replay(
        [{"type": "http.request", "body": b"".join(chunks), "more_body": False}], receive
    )


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
