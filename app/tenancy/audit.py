"""A tenant's audit sink: entries that name no tenant are stamped with it.

The services a tenant's requests reach (``app.wiring.tenants``) write their own entries (a
refused write, an interaction's step) without knowing tenancy; through this sink each lands
on its own tenant's trail, never on the default tenant's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kernel.access import AuditEntry, AuditSink
from kernel.tenancy import TenantId


class TenantAuditSink:
    """``sink``, with ``tenant`` on every entry that names none (an ``AuditSink``)."""

    def __init__(self, sink: AuditSink, tenant: TenantId) -> None:
        self._sink = sink
        self._tenant = tenant

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` through the sink, each its tenant's."""
        await self._sink.record(
            [
                entry
                if entry.tenant is not None
                else dataclasses.replace(entry, tenant=self._tenant)
                for entry in entries
            ]
        )
