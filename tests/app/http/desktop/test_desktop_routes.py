"""``/desktop``: the page and its assets from package data, and the demo agents' tokens,
minted in demo mode only (404 otherwise, as if the route did not exist)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from starlette.applications import Starlette

from app.http.desktop.routes import DEMO_AGENTS, desktop
from app.security.demo_keys import ensure_demo_keys
from app.security.settings import AuthSettings

AUTH = AuthSettings()


async def client_for(demo: bool, data_dir: Path) -> httpx.AsyncClient:
    app = Starlette(routes=[desktop(demo=demo, data_dir=data_dir, auth=AUTH)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://desk")


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(True, tmp_path) as client:
        yield client


@pytest.fixture
async def production(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(False, tmp_path) as client:
        yield client


async def test_the_page_loads_nothing_from_elsewhere(production: httpx.AsyncClient) -> None:
    response = await production.get("/desktop/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert 'label for="token-input">Token<' in response.text
    assert 'label for="find-input">Find customer<' in response.text
    assert "http://" not in response.text
    assert "https://" not in response.text


@pytest.mark.parametrize(
    ("asset", "kind"),
    [
        ("desktop.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("queries.js", "text/javascript"),
        ("render.js", "text/javascript"),
        ("act.js", "text/javascript"),
        ("desktop.css", "text/css"),
    ],
)
async def test_every_asset_is_served_by_the_gateway(
    production: httpx.AsyncClient, asset: str, kind: str
) -> None:
    response = await production.get(f"/desktop/static/{asset}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(kind)
    assert "https://" not in response.text


async def test_without_the_slash_the_page_redirects(production: httpx.AsyncClient) -> None:
    response = await production.get("/desktop")

    assert response.status_code in (307, 308)
    assert response.headers["location"].endswith("/desktop/")


@pytest.mark.parametrize("path", ["/desktop/demo-agents", "/desktop/demo-token"])
async def test_demo_sign_in_does_not_exist_outside_demo_mode(
    production: httpx.AsyncClient, path: str
) -> None:
    if path.endswith("token"):
        response = await production.post(path, json={"agent": "agent-1"})
    else:
        response = await production.get(path)

    assert response.status_code == 404


async def test_demo_mode_lists_its_agents(demo: httpx.AsyncClient) -> None:
    response = await demo.get("/desktop/demo-agents")

    assert response.json() == {"agents": list(DEMO_AGENTS)}


async def test_a_demo_agent_gets_a_token_signed_by_the_demo_keys(
    demo: httpx.AsyncClient, tmp_path: Path
) -> None:
    response = await demo.post("/desktop/demo-token", json={"agent": "agent-2"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    token = response.json()["token"]
    claims = jwt.decode(
        token,
        ensure_demo_keys(tmp_path).public_pem,
        algorithms=["RS256"],
        audience=AUTH.audience,
        issuer=AUTH.issuer,
    )
    assert (claims["sub"], claims["role"]) == ("agent-2", "agent")


@pytest.mark.parametrize(
    "body",
    [b'{"agent": "supervisor-1"}', b'{"agent": 1}', b"[]", b"not json", b"{" + b" " * 2000 + b"}"],
)
async def test_only_the_demo_agents_get_tokens(demo: httpx.AsyncClient, body: bytes) -> None:
    response = await demo.post("/desktop/demo-token", content=body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
