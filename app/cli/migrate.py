"""``scv migrate``: apply the store's pending migrations, then exit.

A deployment runs it once before the gateways roll out (a compose one-off service, a
Kubernetes Job), so that a new version's schema is in place before any instance of it
serves. It connects as the schema's owner (``--url``, else ``SCV_DATABASE_MIGRATION_URL``,
else ``SCV_DATABASE_URL``): the gateways' own role needs no DDL rights
(``app.store.roles``). The gateways still migrate at start, which is a read when nothing is
pending; the advisory lock of ``app.store.migrations_runner`` keeps concurrent runs from
applying a file twice.
"""

from __future__ import annotations

from app.settings import Settings
from app.store.customers import Store
from app.wiring.services import migration_database_url


async def migrate_store(settings: Settings, url: str | None = None) -> list[str]:
    """The migrations applied now, in order (none when the store was up to date), as the
    schema's owner: ``url``, else ``migration_database_url``."""
    store = await Store.connect(
        url or await migration_database_url(settings),
        pool_size=1,
        tenant=settings.tenancy.default_tenant,
    )
    try:
        return await store.migrate()
    finally:
        await store.close()
