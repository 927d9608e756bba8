"""The fixture of the webhook receivers' tests: a gateway's receiver over the store, Ada linked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.store.customers import Store
from app.webhooks.settings import WebhookSettings
from tests.app.webhooks.webhooks_kit import Gateway, link_ada


@pytest.fixture
async def gateway(store: Store) -> AsyncIterator[Gateway]:
    await link_ada(store)
    gateway = Gateway(store, WebhookSettings())
    async with gateway.http:
        yield gateway
