"""Webhooks (``app.webhooks.receiver``): processed events and how new each record's keys are.

``WebhookLedger`` records each vendor event once, in the transaction of what it changes
(``WebhookEventWrite``), in ``webhook_events`` and ``webhook_record_versions``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from app.store.customers import Store
from app.store.sync.values import KeyKind
from kernel.models import Source
from kernel.tenancy import TenantId

__all__ = ["KeyUpdate", "WebhookEventWrite", "WebhookLedger"]

KeyUpdate = Literal["applied", "stale"]

#: The version row of a record as a whole (migration 013), beside its key fields' rows.
RECORD_FIELD = "record"

_CLAIM_WEBHOOK_EVENT = """
insert into webhook_events (tenant, source, event_id, event_type, occurred_at, received_at)
values ($6, $1, $2, $3, $4, $5)
on conflict (tenant, source, event_id) do nothing
returning true
"""
# Last in the event's transaction (migration 015): the event latency KPI reads
# applied_at - received_at. A statement of its own, as what the event changes comes between.
_MARK_WEBHOOK_EVENT_APPLIED = """
update webhook_events set applied_at = $3 where source = $1 and event_id = $2 and tenant = $4
"""
# Moves the record's field to the event's time unless a newer event was applied already;
# no row back means this event is older than what the keys hold.
_ADVANCE_RECORD_VERSION = """
insert into webhook_record_versions (tenant, source, external_id, field, occurred_at)
values ($5, $1, $2, $3, $4)
on conflict (tenant, source, external_id, field) do update
   set occurred_at = excluded.occurred_at
 where webhook_record_versions.occurred_at <= excluded.occurred_at
returning true
"""
_DELETE_RECORD_KEYS = """
delete from lookup_keys where source = $1 and external_id = $2 and kind = $3 and tenant = $4
"""
# Only a linked record has keys; an unlinked one is linked (with its keys) by the next sync.
_AUDIT_KEY_CHANGE = """
insert into audit_trail (tenant, kind, subject, role, customer_id, fields, outcome, detail)
select $6, 'LINK_CHANGE', $1, 'system', customer_id, array[$2], 'applied', $3
  from identity_links where source = $4 and external_id = $5 and tenant = $6
"""
_INSERT_RECORD_KEY = """
insert into lookup_keys (tenant, source, external_id, kind, value, customer_id)
select tenant, source, external_id, $3, $4, customer_id
  from identity_links
 where source = $1 and external_id = $2 and tenant = $5
on conflict (tenant, source, external_id, kind, value) do nothing
"""


class WebhookLedger:
    """Processes each vendor event once, across processes, and keeps keys from going back.

    ``event()`` opens a transaction that first records the event id: a duplicate (a
    vendor's retry, or the same event reaching two gateway processes at once, where the
    second insert waits for the first transaction) gets None and does nothing. Whatever the
    caller does inside (``set_key``, the cache invalidation) commits with the record of the
    event or, if it raises, rolls back with it, so the vendor's retry gets another go.
    """

    def __init__(
        self, store: Store, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        """``clock`` stamps when an event was applied (the receiver's clock, which also
        stamped when it was received)."""
        self._pool = store.pool
        self._tenant = store.tenant
        self._clock = clock

    @asynccontextmanager
    async def event(
        self,
        source: Source,
        event_id: str,
        event_type: str,
        occurred_at: datetime,
        *,
        received_at: datetime | None = None,
    ) -> AsyncIterator[WebhookEventWrite | None]:
        """A transaction for a new event, or None for one already processed.

        The event's row keeps ``received_at`` (default: now) and, once the caller's changes
        are made, when it was applied: the event latency of ``integrationKpis``.
        """
        received = received_at or self._clock()
        async with self._pool.acquire() as conn, conn.transaction():
            claimed = await conn.fetchval(
                _CLAIM_WEBHOOK_EVENT,
                source.value,
                event_id,
                event_type,
                occurred_at,
                received,
                self._tenant,
            )
            yield WebhookEventWrite(conn, self._tenant, source) if claimed else None
            if claimed:
                await conn.execute(
                    _MARK_WEBHOOK_EVENT_APPLIED, source.value, event_id, self._clock(), self._tenant
                )


class WebhookEventWrite:
    """What one event changes in one tenant's identity store, inside the event's
    transaction."""

    def __init__(
        self, conn: PoolConnectionProxy[asyncpg.Record], tenant: TenantId, source: Source
    ) -> None:
        self._conn = conn
        self._tenant = tenant
        self._source = source

    async def advance_record(self, external_id: str, occurred_at: datetime) -> KeyUpdate:
        """Make ``occurred_at`` the record's newest event time; "stale" (nothing changed)
        when an event newer than it was applied already (live changes publish no older)."""
        advanced = await self._conn.fetchval(
            _ADVANCE_RECORD_VERSION,
            self._source.value,
            external_id,
            RECORD_FIELD,
            occurred_at,
            self._tenant,
        )
        return "applied" if advanced else "stale"

    async def set_key(
        self, external_id: str, kind: KeyKind, value: str | None, occurred_at: datetime
    ) -> KeyUpdate:
        """Make ``value`` (normalised; None: none) the record's only ``kind`` key.

        Skipped ("stale") when an event newer than ``occurred_at`` already set this field.
        """
        source = self._source.value
        advanced = await self._conn.fetchval(
            _ADVANCE_RECORD_VERSION, source, external_id, kind, occurred_at, self._tenant
        )
        if not advanced:
            return "stale"
        await self._conn.execute(_DELETE_RECORD_KEYS, source, external_id, kind, self._tenant)
        if value is not None:
            await self._conn.execute(
                _INSERT_RECORD_KEY, source, external_id, kind, value, self._tenant
            )
        # On the audit trail of the customer the record is linked to, in this transaction:
        # a key that moved changes who a lookup finds, so it is a link change. No values.
        await self._conn.execute(
            _AUDIT_KEY_CHANGE,
            f"webhook:{source.lower()}",
            f"{kind}_key",
            f"{source} record {external_id}: {kind} lookup key "
            + ("replaced" if value is not None else "removed"),
            source,
            external_id,
            self._tenant,
        )
        return "applied"
