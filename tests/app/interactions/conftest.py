"""The interaction service over a real store, with the kit's keys, clock and fake IVR."""

from __future__ import annotations

import pytest

from app.store.customers import Store
from tests.app.handoff_kit import Kit, build_kit


@pytest.fixture
async def kit(store: Store) -> Kit:
    return await build_kit(store)
