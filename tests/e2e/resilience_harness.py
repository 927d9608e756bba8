"""Gateways with resilience settings of their own, beside the session's stack, for fault tests.

Each runs in the test session's loop under uvicorn, on the session's sandbox and database,
with short timeouts and deadline so that faults resolve quickly, and with the response
cache off so that a cached panel never hides a fault.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.settings import BreakerSettings, RetrySettings
from app.main import create_app
from app.settings import Settings
from tests.e2e.harness import Stack, serve, stop

#: The three panels and the source behind each, as the sandbox names the systems.
PANEL_OF = {"billing": "billing", "crm": "profile", "support": "support"}
PANEL_SOURCES = tuple(PANEL_OF)

#: One call per panel: the billing customer, a CRM batch read, the support tickets.
PANELS_QUERY = """query($id: ID!) { customer(id: $id) {
  profile { name } billing { delinquent } support { openTicketCount } } }"""

#: A customer known to every system, by the source id the store links to them.
LINKS_QUERY = """query($id: ID!) { customerBySourceId(source: SUPPORT, id: $id) {
  id links { source } } }"""
FIRST_SUPPORT_USER_ID = 20001


def for_shared_stack(settings: Settings) -> Settings:
    """``settings`` with every source's breaker off, no retries, no rollback in the background.

    For stacks shared by many tests: a fault one test injects must not leave a breaker open,
    nor a (single-flight, shared) fetch still retrying, nor a source rolled back, for the next
    test to meet. Breakers and retries are tested on gateways of their own; rollback by a test
    that runs the check itself (tests/e2e/test_rollout_e2e.py).
    """
    update = {
        name: section.model_copy(
            update={
                "breaker": section.breaker.model_copy(update={"enabled": False}),
                "retry": section.retry.model_copy(update={"retries": 0}),
            }
        )
        for name in ("billing", "crm", "support", "ivr")
        for section in [getattr(settings, name)]
    }
    update["rollout"] = settings.rollout.model_copy(update={"check_seconds": 3600.0})
    return settings.model_copy(update=update)


def fast_failing(
    settings: Settings,
    *,
    deadline_seconds: float = 1.0,
    breaker: BreakerSettings | None = None,
    retry: RetrySettings | None = None,
    base_urls: dict[str, str] | None = None,
) -> Settings:
    """``settings`` with short timeouts, quick retries, ``breaker`` and no response cache."""
    retry = retry or RetrySettings(
        retries=2, backoff_initial_seconds=0.02, backoff_max_seconds=0.05
    )
    breaker = breaker or BreakerSettings(enabled=False)
    update: dict[str, Any] = {}
    for name in ("billing", "crm", "support", "ivr"):
        section = getattr(settings, name)
        changes: dict[str, Any] = {
            "connect_timeout": 0.2,
            "read_timeout": 0.3,
            "retry": retry,
            "breaker": breaker,
        }
        if base_urls and name in base_urls:
            changes["base_url"] = base_urls[name]
        update[name] = section.model_copy(update=changes)
    update["request_deadline_seconds"] = deadline_seconds
    update["cache"] = settings.cache.model_copy(update={"enabled": False})
    return settings.model_copy(update=update)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class Gateway:
    """A gateway of a test's own, beside the session's stack."""

    stack: Stack
    url: str

    async def panels(self, customer_id: str) -> tuple[httpx.Response, float]:
        """POST the three-panel query for ``customer_id``; the answer and seconds it took."""
        started = time.perf_counter()
        response = await self.stack.http.post(
            f"{self.url}/graphql",
            json={"query": PANELS_QUERY, "variables": {"id": customer_id}},
            headers={"Authorization": f"Bearer {self.stack.token}"},
        )
        return response, time.perf_counter() - started

    async def readyz(self) -> dict[str, Any]:
        response = await self.stack.http.get(f"{self.url}/readyz")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def metrics(self) -> str:
        return (await self.stack.http.get(f"{self.url}/metrics")).text


@asynccontextmanager
async def gateway(stack: Stack, settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway for ``settings`` under uvicorn, stopped on exit."""
    server, task, port = await serve(create_app(settings))
    try:
        yield Gateway(stack=stack, url=f"http://127.0.0.1:{port}")
    finally:
        await stop(server, task)


async def fully_linked_customers(stack: Stack, count: int) -> list[str]:
    """Ids of ``count`` customers linked in billing, CRM and support (store reads only)."""
    found: list[str] = []
    for support_id in range(FIRST_SUPPORT_USER_ID, FIRST_SUPPORT_USER_ID + 1000):
        data = await stack.data(LINKS_QUERY, id=str(support_id))
        customer = data["customerBySourceId"]
        if customer is None:
            continue
        sources = {link["source"] for link in customer["links"]}
        if {"BILLING", "CRM", "SUPPORT"} <= sources:
            found.append(customer["id"])
            if len(found) == count:
                return found
    raise AssertionError(f"only {len(found)} fully linked customers in the sandbox")
