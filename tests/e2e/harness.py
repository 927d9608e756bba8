"""Handles on the running stack (sandbox, PostgreSQL, gateway) for end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.analytics.refresh import refresh_facts_from
from app.identity.sync.report import SyncReport
from app.identity.sync.runner import sync_identities
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.settings import Settings
from app.store.customers import Store
from app.store.facts_writer import FactsWriter
from app.wiring.sources import build_sources

SYSTEMS = ("billing", "crm", "support", "ivr")


@dataclass(frozen=True)
class Stack:
    """Handles on the running stack for one test session."""

    settings: Settings
    sandbox_url: str
    gateway_url: str
    keys: DemoKeys
    token: str
    sync_report: SyncReport
    http: httpx.AsyncClient
    #: The gateway app: its response cache is ``gateway.state.cache`` once it has started.
    gateway: Starlette

    async def query(
        self, document: str, token: str | None = None, **variables: Any
    ) -> httpx.Response:
        """POST a GraphQL document as the demo agent (or with ``token``)."""
        return await self.http.post(
            f"{self.gateway_url}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.token}"},
        )

    async def data(self, document: str, **variables: Any) -> dict[str, Any]:
        """The ``data`` of a query that must succeed without errors."""
        response = await self.query(document, **variables)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        result: dict[str, Any] = body["data"]
        return result

    async def clear_gateway_cache(self) -> None:
        """Empty the gateway's response cache, so the next query reads every system."""
        await self.gateway.state.cache.clear()

    async def reset_sandbox(self) -> None:
        """Clear faults and request counts of every sandbox system."""
        for system in SYSTEMS:
            await self.http.delete(f"{self.sandbox_url}/{system}/_sandbox/faults")
            await self.http.delete(f"{self.sandbox_url}/{system}/_sandbox/stats")

    async def stats(self, system: str) -> dict[str, Any]:
        response = await self.http.get(f"{self.sandbox_url}/{system}/_sandbox/stats")
        result: dict[str, Any] = response.json()
        return result

    async def set_faults(self, system: str, **faults: Any) -> None:
        response = await self.http.post(f"{self.sandbox_url}/{system}/_sandbox/faults", json=faults)
        assert response.status_code == 200, response.text


#: How long the test servers keep an idle connection open (above httpx's 5 s).
KEEP_ALIVE_SECONDS = 30


async def serve(app: ASGIApp) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    """``app`` under uvicorn on an ephemeral loopback port, once it accepts connections."""
    # Keep-alive longer than the tests' clients keep an idle connection (httpx: 5 s): with
    # uvicorn's own 5 s the two expire together, and a client reusing a connection the
    # server has just closed gets "Server disconnected without sending a response".
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    )
    # The test session owns signals; uvicorn must not take Ctrl-C away from pytest.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("server did not start")
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def stop(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


async def sync_store(settings: Settings, *, with_facts: bool = False) -> SyncReport:
    """Migrate the store of ``settings``, link every sandbox record into it (a full sync),
    and, ``with_facts``, fill the analysts' read model as ``scv sync`` does."""
    assert settings.database_url is not None
    async with AsyncExitStack() as resources:
        store = await Store.connect(settings.database_url.get_secret_value(), pool_size=2)
        resources.push_async_callback(store.close)
        await store.migrate()
        sources = await build_sources(settings, resources)
        report = await sync_identities(store, sources.by_source, settings.identity)
        if with_facts:
            await refresh_facts_from(
                FactsWriter(store.pool, store.tenant),
                sources,
                settings.customers,
                settings.identity.default_region,
            )
        return report


def role_tokens(data_dir: Path, settings: Settings, roles: Iterable[str]) -> dict[str, str]:
    """A bearer token for each role (subject ``<role>-1``), signed by the demo keys there."""
    keys = ensure_demo_keys(data_dir)
    return {role: mint_token(keys, settings.auth, subject=f"{role}-1", role=role) for role in roles}
