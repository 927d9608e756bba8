"""The whole stack for the browser tests, in a thread of its own.

Selenium blocks while the browser works, so the servers cannot share the test's thread: the
sandbox, a real PostgreSQL database, a sync and the gateway run on an event loop in a
background thread (as ``tests/e2e/conftest.py`` starts them, with its helpers), and the
tests reach them through ``LiveStack``: real HTTP over loopback, ephemeral ports.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import SecretStr
from starlette.applications import Starlette

from app.cli.environment import with_sandbox_port
from app.cli.ivr_call import play_ivr_call
from app.main import create_app
from app.security.demo_keys import DemoKeys, ensure_demo_keys, mint_token
from app.settings import Settings
from sandbox.server import create_sandbox_app
from sandbox.webhooks import DEFAULT_SECRETS, signed_headers
from tests.conftest import scratch_database
from tests.e2e.harness import SYSTEMS, serve, stop, sync_store
from tests.e2e.resilience_harness import for_shared_stack

T = TypeVar("T")


class BackgroundLoop:
    """An event loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@dataclass
class LiveStack:
    """Handles on the running stack, callable from the test's (blocking) thread."""

    loop: BackgroundLoop
    settings: Settings
    keys: DemoKeys
    gateway: Starlette
    gateway_url: str
    sandbox_url: str
    http: httpx.AsyncClient
    resources: AsyncExitStack

    def token(self, subject: str, role: str = "agent") -> str:
        return mint_token(self.keys, self.settings.auth, subject=subject, role=role)

    def ivr_call(self, **call: Any) -> str:
        """Play a call on the sandbox IVR and post its signed handoff, as ``scv ivr-call``
        does; the contact id of the interaction the gateway opened."""
        played = self.loop.run(
            play_ivr_call(
                self.http,
                ivr_url=f"{self.sandbox_url}/ivr",
                gateway_url=self.gateway_url,
                ivr_token=self.token("ivr-sandbox", "ivr"),
                call=call,
            )
        )
        return played.contact_id

    def crm_changed(self, contact: str, event_id: int) -> None:
        """A signed HubSpot property change of ``contact`` posted to the gateway's webhook,
        as the sandbox CRM sends them (it changes no data: only what the gateway hears)."""

        async def post() -> None:
            url = f"{self.gateway_url}/webhooks/crm"
            body = orjson.dumps(
                [
                    {
                        "eventId": event_id,
                        "subscriptionId": 1,
                        "portalId": 1,
                        "appId": 1,
                        "occurredAt": int(time.time() * 1000),
                        "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0,
                        "objectId": int(contact),
                        "propertyName": "jobtitle",
                        "propertyValue": f"job {event_id}",
                        "changeSource": "CRM_UI",
                    }
                ]
            )
            headers = signed_headers("crm", DEFAULT_SECRETS["crm"], url, body, time.time())
            response = await self.http.post(url, content=body, headers=headers)
            assert response.status_code == 200, response.text

        self.loop.run(post())

    def set_faults(self, system: str, **faults: Any) -> None:
        async def post() -> None:
            url = f"{self.sandbox_url}/{system}/_sandbox/faults"
            response = await self.http.post(url, json=faults)
            assert response.status_code == 200, response.text

        self.loop.run(post())

    def reset(self) -> None:
        """No sandbox faults, and nothing in the gateway's cache (the next find is cold)."""

        async def reset() -> None:
            for system in SYSTEMS:
                await self.http.delete(f"{self.sandbox_url}/{system}/_sandbox/faults")
            await self.gateway.state.cache.clear()

        self.loop.run(reset())

    def close(self) -> None:
        self.loop.run(self.resources.aclose())
        self.loop.close()


def start_stack(database_url: str, data_dir: Path) -> LiveStack:
    """Sandbox, a scratch database synced from it, and the gateway in demo mode."""
    loop = BackgroundLoop()
    return loop.run(_start(loop, database_url, data_dir))


async def _start(loop: BackgroundLoop, database_url: str, data_dir: Path) -> LiveStack:
    resources = AsyncExitStack()
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(seed=42, customers=300)
    )
    resources.push_async_callback(stop, sandbox_server, sandbox_task)
    url = await resources.enter_async_context(scratch_database(database_url, "browser"))
    # Breakers and retries off, as the e2e stack: a fault one test injects must show at once
    # and leave nothing open behind it for the next.
    settings = for_shared_stack(
        with_sandbox_port(
            Settings(demo=True, data_dir=data_dir, database_url=SecretStr(url)), sandbox_port
        )
    )
    await sync_store(settings)
    gateway = create_app(settings)
    gateway_server, gateway_task, gateway_port = await serve(gateway)
    resources.push_async_callback(stop, gateway_server, gateway_task)
    http = await resources.enter_async_context(httpx.AsyncClient(timeout=10.0))
    return LiveStack(
        loop=loop,
        settings=settings,
        keys=ensure_demo_keys(data_dir),
        gateway=gateway,
        gateway_url=f"http://127.0.0.1:{gateway_port}",
        sandbox_url=f"http://127.0.0.1:{sandbox_port}",
        http=http,
        resources=resources,
    )
