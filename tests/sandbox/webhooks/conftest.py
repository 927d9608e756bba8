"""Fixtures of the sandbox's webhook tests: a sandbox of their own, its outbox's receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.data.generate import generate_dataset
from sandbox.server import Sandbox, create_sandbox_app
from tests.sandbox.webhooks.sandbox_webhooks_kit import FAST, RECEIVER, Receiver


@pytest.fixture
def app() -> Starlette:
    """A sandbox of its own (named customers only): these tests change its data."""
    return create_sandbox_app(
        dataset=generate_dataset(seed=42, customers=0),
        webhook_url=RECEIVER,
        webhook_policy=FAST,
    )


@pytest.fixture
def receiver(app: Starlette) -> Receiver:
    receiver = Receiver()
    sandbox: Sandbox = app.state.sandbox
    sandbox.outbox.transport = httpx.MockTransport(receiver.handle)
    return receiver


@pytest.fixture
async def outbox_drained(app: Starlette) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    sandbox: Sandbox = app.state.sandbox
    yield sandbox.outbox.drain
    await sandbox.outbox.aclose()


# billing, crm and support clients come from tests/sandbox/conftest.py, over this app.


Drain = Callable[[], Awaitable[None]]
