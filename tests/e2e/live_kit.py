"""What the live end-to-end tests share: the stack they run against (``LiveStack``), Ada and a
subscription to her changes, and a change of her in the CRM.

The stack: the sandbox's systems, one PostgreSQL, two gateway instances over loopback, and
subscribers on real WebSockets (graphql-transport-ws). The sandbox sends its signed webhooks
to gateway A; subscribers connect to A or to B. An event heard by A reaches B's subscribers
only through PostgreSQL's LISTEN/NOTIFY: the two apps share nothing else but the database.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from app.security.demo_keys import DemoKeys, mint_token
from app.settings import Settings
from tests.e2e.live_client import LiveClient

ADA_EMAIL = "ada.lovelace@example.com"
ADA_CRM_ID = "1001"

CUSTOMER_UPDATED = """subscription($id: ID!) {
  customerUpdated(customerId: $id) { customerId sources panels at requery }
}"""


@dataclass(frozen=True)
class LiveStack:
    sandbox_url: str
    #: The instance the sandbox's webhooks go to.
    gateway_a: str
    #: Another instance over the same database.
    gateway_b: str
    settings: Settings
    keys: DemoKeys
    http: httpx.AsyncClient

    def token(self, role: str = "agent", subject: str = "agent-1", ttl: int = 3600) -> str:
        return mint_token(
            self.keys, self.settings.auth, subject=subject, role=role, ttl_seconds=ttl
        )

    async def graphql(
        self, gateway: str, document: str, token: str | None = None, **variables: Any
    ) -> dict[str, Any]:
        response = await self.http.post(
            f"{gateway}/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {token or self.token()}"},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def ada_id(self) -> str:
        data = await self.graphql(
            self.gateway_a,
            "query($e: String!) { customerByEmail(email: $e) { id } }",
            e=ADA_EMAIL,
        )
        customer_id: str = data["customerByEmail"]["id"]
        return customer_id

    async def metrics(self, gateway: str) -> str:
        return (await self.http.get(f"{gateway}/metrics")).text

    async def open_subscriptions(self, gateway: str, field: str = "customerUpdated") -> float:
        """``gateway``'s ``scv_live_subscriptions_open`` for ``field`` (0 when absent)."""
        prefix = f'scv_live_subscriptions_open{{field="{field}"}} '
        for line in (await self.metrics(gateway)).splitlines():
            if line.startswith(prefix):
                return float(line.removeprefix(prefix))
        return 0.0

    async def until_subscribed(
        self, gateway: str, more_than: float, field: str = "customerUpdated"
    ) -> None:
        """Wait (10 s at most) until ``gateway`` holds more than ``more_than`` subscriptions to
        ``field``: counted once registered with the hub, so a change published after this
        reaches them. An HTTP stream's headers come before its subscription is registered:
        a change made on the headers alone could be published to nobody."""
        for _ in range(500):
            if await self.open_subscriptions(gateway, field) > more_than:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {field} subscription registered on {gateway} in 10 s")

    async def subscribed(
        self,
        client: LiveClient,
        gateway: str,
        query: str,
        field: str = "customerUpdated",
        **variables: Any,
    ) -> str:
        """``client`` (connected to ``gateway``) subscribed to ``query``, returned once the
        gateway has registered it with its hub: a change made after this reaches it. A pong
        says only that the server read the subscribe message; the operation itself starts in
        a task of its own (authorisation, the store), which a loaded machine runs later than
        a webhook arrives."""
        before = await self.open_subscriptions(gateway, field)
        operation = await client.subscribe(query, **variables)
        await self.until_subscribed(gateway, before, field)
        return operation


async def change_ada_in_the_crm(stack: LiveStack, **properties: str) -> None:
    changed = await stack.http.patch(
        f"{stack.sandbox_url}/crm/crm/v3/objects/contacts/{ADA_CRM_ID}",
        json={"properties": properties},
        headers={"Authorization": "Bearer pat-sandbox-crm"},
    )
    assert changed.status_code == 200, changed.text
