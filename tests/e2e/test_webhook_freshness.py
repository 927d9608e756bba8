"""A change made in a sandbox system reaches the gateway as a signed webhook, end to end.

A stack of its own (sandbox, database, gateway over loopback), because the test changes the
sandbox's data: the shared stack's other tests expect Ada's email as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from app.cli.environment import with_sandbox_port
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from kernel.models import Source
from sandbox.server import create_sandbox_app
from sandbox.webhooks import DeliveryPolicy
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store

OLD_EMAIL = "ada.lovelace@example.com"
NEW_EMAIL = "ada@analytical-engine.example"

BY_EMAIL = """query($email: String!) {
  customerByEmail(email: $email) { id profile { email } links { source externalId } }
}"""


class ForwardingInvalidator:
    """Records each invalidation, then lets the gateway's own cache forget the record."""

    def __init__(self) -> None:
        self.calls: list[tuple[Source, str]] = []
        self.app: Starlette | None = None

    async def invalidate_record(self, source: Source, record_id: str) -> None:
        self.calls.append((source, record_id))
        assert self.app is not None
        await self.app.state.cache.invalidate_record(source, record_id)


@dataclass(frozen=True)
class FreshStack:
    sandbox_url: str
    gateway_url: str
    token: str
    invalidator: ForwardingInvalidator
    http: httpx.AsyncClient

    async def customer_by_email(self, email: str) -> Any:
        response = await self.http.post(
            f"{self.gateway_url}/graphql",
            json={"query": BY_EMAIL, "variables": {"email": email}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]["customerByEmail"]


@pytest.fixture
async def fresh_stack(database_url: str, tmp_path: Path) -> AsyncIterator[FreshStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(
            seed=42,
            customers=0,
            webhook_policy=DeliveryPolicy(attempts=5, wait_initial=0.05, wait_max=0.5),
        )
    )
    async with scratch_database(database_url, "e2e_hooks") as url:
        settings = with_sandbox_port(
            Settings(demo=True, data_dir=tmp_path, database_url=SecretStr(url)), sandbox_port
        )
        await sync_store(settings)
        invalidator = ForwardingInvalidator()
        gateway = create_app(settings, invalidator=invalidator)
        invalidator.app = gateway
        gateway_server, gateway_task, gateway_port = await serve(gateway)
        keys = ensure_demo_keys(tmp_path)
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                yield FreshStack(
                    sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                    gateway_url=f"http://127.0.0.1:{gateway_port}",
                    token=mint_token(keys, settings.auth, subject="agent-1", role="agent"),
                    invalidator=invalidator,
                    http=http,
                )
        finally:
            await stop(gateway_server, gateway_task)
            await stop(sandbox_server, sandbox_task)


async def wait_for_delivery(stack: FreshStack, system: str, delivered: int) -> None:
    """Poll the sandbox's delivery count (no fixed sleep): at most ~10 s."""
    for _ in range(200):
        stats = (await stack.http.get(f"{stack.sandbox_url}/{system}/_sandbox/stats")).json()
        if stats["webhooks"]["delivered"] >= delivered:
            return
        assert stats["webhooks"]["failed"] == 0, stats["webhooks"]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no webhook delivered by {system}: {stats['webhooks']}")


async def test_a_crm_email_change_is_found_by_the_next_query(fresh_stack: FreshStack) -> None:
    stack = fresh_stack
    before = await stack.customer_by_email(OLD_EMAIL)
    # An agent sees emails masked (a***@domain) until the caller is verified: the domain shows.
    assert before["profile"]["email"].endswith("@example.com")
    hooks = await stack.http.post(
        f"{stack.sandbox_url}/_sandbox/webhooks", json={"url": f"{stack.gateway_url}/webhooks"}
    )
    assert hooks.status_code == 200

    changed = await stack.http.patch(
        f"{stack.sandbox_url}/crm/crm/v3/objects/contacts/1001",
        json={"properties": {"email": NEW_EMAIL}},
        headers={"Authorization": "Bearer pat-sandbox-crm"},
    )
    assert changed.status_code == 200
    await wait_for_delivery(stack, "crm", 1)

    assert stack.invalidator.calls == [(Source.CRM, "1001")]
    after = await stack.customer_by_email(NEW_EMAIL)
    assert after["id"] == before["id"]
    # Invalidated: the profile is read again from the CRM, not served from the cache.
    assert after["profile"]["email"].endswith("@analytical-engine.example")
