"""``scv audit-prune``: the audit trail's entries past their retention deleted."""

from __future__ import annotations

import argparse
import asyncio

from app.cli.environment import load_settings
from app.settings import Settings


def cmd_audit_prune(args: argparse.Namespace) -> None:
    from app.observability.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    removed = asyncio.run(_prune_audit_trail(settings))
    print(f"deleted {removed} audit entries older than {settings.audit.retention_days} days")


async def _prune_audit_trail(settings: Settings) -> int:
    from app.security.audit import prune_audit_trail
    from app.store.audit import AuditTrailStore
    from app.store.customers import Store
    from app.wiring.services import database_url

    store = await Store.connect(
        await database_url(settings), pool_size=1, tenant=settings.tenancy.default_tenant
    )
    try:
        await store.migrate()
        return await prune_audit_trail(AuditTrailStore(store), settings.audit)
    finally:
        await store.close()
