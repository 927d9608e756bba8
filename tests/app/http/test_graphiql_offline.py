"""GraphiQL without the internet: every asset its page loads is the gateway's own, unaltered."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest
from starlette.applications import Starlette
from strawberry.http.ides import get_graphql_ide_html

from app.http.graphiql import (
    MOUNT,
    GraphiqlAssetsMissing,
    graphiql_assets,
    offline_graphiql_html,
)

TAG = re.compile(r"<(?:script|link)\b[^>]*>", re.S)
ATTRIBUTE = re.compile(r"""\b(src|href|integrity)=["']([^"']+)["']""")


def assets_of(page: str) -> list[tuple[str, str]]:
    """(path, integrity) of every script and stylesheet the page loads."""
    found = []
    for tag in TAG.findall(page):
        attributes = dict(ATTRIBUTE.findall(tag))
        path = attributes.get("src") or attributes.get("href", "")
        if path and not path.startswith("data:"):
            found.append((path, attributes.get("integrity", "")))
    return found


async def test_the_page_loads_every_asset_from_the_gateway_and_each_matches_its_hash() -> None:
    page = offline_graphiql_html(get_graphql_ide_html("graphiql"))
    assets = assets_of(page)
    app = Starlette(routes=[graphiql_assets()])

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        for path, integrity in assets:
            response = await client.get(path)
            digest = base64.b64encode(hashlib.sha384(response.content).digest()).decode()

            assert path.startswith(f"{MOUNT}/")
            assert response.status_code == 200
            assert integrity == f"sha384-{digest}"
    assert len(assets) == 7
    assert "unpkg.com" not in page


def test_a_page_naming_an_asset_the_gateway_lacks_is_refused_by_name() -> None:
    page = '<script src="https://cdn.example/graphiql@9.0.0/graphiql.min.js"></script>'

    with pytest.raises(GraphiqlAssetsMissing, match=r"cdn\.example/graphiql@9\.0\.0"):
        offline_graphiql_html(page)


async def test_nothing_outside_the_assets_is_served() -> None:
    app = Starlette(routes=[graphiql_assets()])

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as client:
        response = await client.get(f"{MOUNT}/../__init__.py")

    assert response.status_code == 404
