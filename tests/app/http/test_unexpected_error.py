"""A defect that escapes every handler is still answered in GraphQL's error shape, and says
nothing of itself."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.http.protocol import unexpected_error


async def defect(request: Request) -> Response:
    raise RuntimeError("secret value ada.lovelace@example.com")


async def test_an_escaped_exception_is_a_json_500_without_its_message() -> None:
    app = Starlette(
        routes=[Route("/boom", defect)], exception_handlers={Exception: unexpected_error}
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json() == {
        "errors": [
            {"message": "Internal server error.", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
        ]
    }
    assert "ada" not in response.text
