"""``scv migrate``: apply the store's pending migrations, then exit.

A deployment runs it once before the gateways roll out (a compose one-off service, a
Kubernetes Job), so that a new version's schema is in place before any instance of it
serves. The gateways still migrate at start (a no-op by then): the advisory lock of
``app.store.migrations_runner`` keeps concurrent runs from applying a file twice.
"""

from __future__ import annotations

from app.settings import Settings
from app.store.customers import Store
from app.wiring.services import database_url


async def migrate_store(settings: Settings) -> list[str]:
    """The migrations applied now, in order (none when the store was up to date)."""
    store = await Store.connect(
        await database_url(settings), pool_size=1, tenant=settings.tenancy.default_tenant
    )
    try:
        return await store.migrate()
    finally:
        await store.close()
