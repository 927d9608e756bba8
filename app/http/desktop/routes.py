"""``/desktop``: the agent's one screen, and in demo mode the demo agents' tokens.

The page is static package data (``static/``): no CDN and no build step, so it loads on a
network without internet access. Its panels are the source registry's (``page.py``). It
speaks to the gateway only through ``/graphql``, with the bearer token the agent gives it,
as a contact centre's own desktop would.

``POST /desktop/demo-token`` mints a demo agent's token with the demo key pair, so that the
page can sign in with one click; outside demo mode it answers 404, as if it did not exist.
A real deployment's agents get their tokens from their identity provider (the gateway checks
them against ``SCV_AUTH__JWKS_URL``), never from the gateway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from adapters.registry import display_names, on_desktop
from app.http.desktop.page import render_page
from app.http.responses import error_response
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.security.settings import AuthSettings

#: The demo's agents: each gets a sign-in button on the page in demo mode.
DEMO_AGENTS = ("agent-1", "agent-2")
#: A demo agent's token lives for a working shift's hour, as ``scv token``'s default.
DEMO_TOKEN_TTL_SECONDS = 3600
#: The body is ``{"agent": "agent-1"}``; anything much larger is not that.
MAX_BODY_BYTES = 1024

# The page loads nothing from elsewhere and runs no inline script: a policy this strict
# means an injected value (a customer's name is data from four systems) cannot run as code.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class DemoIssuer:
    """Mints the demo agents' tokens with the demo key pair under ``data_dir``."""

    data_dir: Path
    auth: AuthSettings

    async def mint(self, agent: str) -> str:
        # Reading (or, the first time, generating) the key pair is file work: off the loop.
        keys = await asyncio.to_thread(ensure_demo_keys, self.data_dir)
        return mint_token(
            keys, self.auth, subject=agent, role="agent", ttl_seconds=DEMO_TOKEN_TTL_SECONDS
        )


def desktop(*, demo: bool, data_dir: Path, auth: AuthSettings) -> Mount:
    """The ``/desktop`` mount: the page, its assets, and (demo mode only) demo sign-in."""
    issuer = DemoIssuer(data_dir, auth) if demo else None
    static = files("app.http.desktop") / "static"
    template = static.joinpath("index.html").read_text(encoding="utf-8")
    page = render_page(template, on_desktop(), display_names())

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    async def demo_agents(request: Request) -> Response:
        if issuer is None:
            return error_response(404, "NOT_FOUND", "not found")
        return JSONResponse({"agents": list(DEMO_AGENTS)}, headers={"Cache-Control": "no-store"})

    async def demo_token(request: Request) -> Response:
        if issuer is None:
            return error_response(404, "NOT_FOUND", "not found")
        agent = _agent_of(await request.body())
        if agent is None:
            return error_response(
                400, "BAD_USER_INPUT", f'send {{"agent": "<id>"}}, one of {", ".join(DEMO_AGENTS)}'
            )
        token = await issuer.mint(agent)
        return JSONResponse({"agent": agent, "token": token}, headers={"Cache-Control": "no-store"})

    return Mount(
        "/desktop",
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/demo-agents", demo_agents, methods=["GET"]),
            Route("/demo-token", demo_token, methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(static)), name="desktop-static"),
        ],
    )


def _agent_of(body: bytes) -> str | None:
    """The demo agent the body names, or None when it names none of them."""
    if len(body) > MAX_BODY_BYTES:
        return None
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    agent = document.get("agent") if isinstance(document, dict) else None
    return agent if agent in DEMO_AGENTS else None
