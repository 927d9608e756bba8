"""The audit trail (``app.security.audit``): append-only, read back newest first, pruned by age.

``AuditTrailStore`` keeps the ``audit_trail`` table of ``004_audit.sql``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.store.customers import Store
from kernel.access import AuditEntry, AuditTrailPage, RecordedAuditEntry
from kernel.identity import CustomerId

__all__ = ["AuditTrailStore", "check_entries"]

# One statement per request's batch: the rows are parameters as arrays, so a request that
# touched three customers costs one round trip, not three. ``fields`` travel as one
# comma-joined text per row (schema coordinates hold no commas) because PostgreSQL arrays
# cannot be ragged. The time is the server's: a caller cannot date an entry.
_INSERT_AUDIT_ENTRIES = """
insert into audit_trail (tenant, kind, request_id, subject, role, interaction_id, customer_id,
                         fields, masked, purpose, outcome, client_address, detail)
select tenant, kind, request_id, subject, role, interaction_id, customer_id,
       string_to_array(fields, ','), masked, purpose, outcome, client_address, detail
  from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::text[], $8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[],
              $13::text[])
       as new (kind, request_id, subject, role, interaction_id, customer_id, fields, masked,
               purpose, outcome, client_address, detail, tenant)
"""
_SELECT_AUDIT_TRAIL = """
select id, at, kind, request_id, subject, role, interaction_id, customer_id, fields, masked,
       purpose, outcome, client_address, detail
  from audit_trail
 where customer_id = $1 and ($2::bigint is null or id < $2) and tenant = $4
 order by id desc
 limit $3
"""
_PRUNE_AUDIT_TRAIL = "select audit_prune($1)"


def check_entries(entries: Sequence[AuditEntry]) -> None:
    """``ValueError`` if an entry cannot be written (a field name holding a comma)."""
    for entry in entries:
        if any("," in name for name in entry.fields):
            raise ValueError("audit field names must not contain commas")


class AuditTrailStore:
    """The ``audit_trail`` table: append a batch, read one customer's page, prune by age.

    An entry is its own tenant's (``AuditEntry.tenant``), or this store's when it names none;
    a page is read from this store's tenant's entries only.

    Implements ``kernel.access.AuditReader``; ``app.security.audit.PostgresAuditSink`` writes
    through it with its own timeout and metrics.
    """

    def __init__(self, store: Store) -> None:
        self._pool = store.pool
        self._tenant = store.tenant

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Insert ``entries`` in one statement; durable (committed) when it returns."""
        if not entries:
            return
        check_entries(entries)
        async with self._pool.acquire() as conn:
            await conn.execute(
                _INSERT_AUDIT_ENTRIES,
                [e.kind for e in entries],
                [e.request_id for e in entries],
                [e.subject for e in entries],
                [e.role for e in entries],
                [e.interaction_id for e in entries],
                [e.customer_id for e in entries],
                [",".join(e.fields) for e in entries],
                [e.masked for e in entries],
                [e.purpose for e in entries],
                [e.outcome for e in entries],
                [e.client_address for e in entries],
                [e.detail for e in entries],
                [e.tenant or self._tenant for e in entries],
            )

    async def read_audit_trail(
        self, customer_id: CustomerId, first: int, before_id: int | None
    ) -> AuditTrailPage:
        """Up to ``first`` entries about ``customer_id`` older than ``before_id``, newest first."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _SELECT_AUDIT_TRAIL, customer_id, before_id, first + 1, self._tenant
            )
        entries = tuple(
            RecordedAuditEntry(
                id=row["id"],
                entry=AuditEntry(
                    kind=row["kind"],
                    subject=row["subject"],
                    role=row["role"],
                    outcome=row["outcome"],
                    customer_id=CustomerId(row["customer_id"]),
                    interaction_id=row["interaction_id"],
                    request_id=row["request_id"],
                    fields=tuple(row["fields"]),
                    masked=row["masked"],
                    purpose=row["purpose"],
                    client_address=row["client_address"],
                    detail=row["detail"],
                    at=row["at"],
                ),
            )
            for row in rows[:first]
        )
        return AuditTrailPage(entries=entries, has_more=len(rows) > first)

    async def prune(self, cutoff: datetime) -> int:
        """Delete the entries older than ``cutoff`` (at least a day ago); return how many."""
        async with self._pool.acquire() as conn:
            removed: int = await conn.fetchval(_PRUNE_AUDIT_TRAIL, cutoff)
        return removed
