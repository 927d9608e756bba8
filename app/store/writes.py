"""The ``writes`` table (``012_writes.sql``): every write's SQL, idempotency, outbox, status.

A write is accepted once per (principal, key): ``accept`` inserts its row, or finds the row
the key already has. The row is PENDING until its system of record took it (APPLIED) or it
was given up on (FAILED). The request that accepted it tries it at once under a lease
(``next_attempt_at`` in the future); a row whose lease or backoff is over is claimed by a
worker with ``for update skip locked``, so that the workers of every process share the
outbox and no two deliver one row at the same time. Each claim draws a token, and the
outcome is recorded only by the holder of the row's current token.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.store.customers import Store
from kernel.tenancy import TenantId

__all__ = ["NewWrite", "WriteRow", "WriteStore"]

# Formatted into the statements below: a constant of this module, never input.
_COLUMNS = """
id, principal, principal_role, idempotency_key, input_hash, kind, source, customer_id,
target_record_id, input, fields, expected_version, vendor_key, status, record_id, reason,
attempts, claim_token, last_error, interaction_id, created_at, finished_at, tenant
"""

_INSERT = f"""
insert into writes (tenant, id, principal, principal_role, idempotency_key, input_hash, kind,
                    source, customer_id, target_record_id, input, fields, expected_version,
                    vendor_key, status, attempts, next_attempt_at, claim_token,
                    interaction_id)
values ($17, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::text[], $12, $13, 'PENDING',
        1, now() + make_interval(secs => $14), $15, $16)
on conflict (tenant, principal, idempotency_key) do nothing
returning {_COLUMNS}
"""  # noqa: S608
_SELECT_BY_KEY = f"""
select {_COLUMNS} from writes where principal = $1 and idempotency_key = $2 and tenant = $3
"""  # noqa: S608
_SELECT = f"select {_COLUMNS} from writes where id = $1 and tenant = $2"  # noqa: S608

_CLAIM = f"""
update writes as w
   set attempts = w.attempts + 1,
       claim_token = $2,
       next_attempt_at = now() + make_interval(secs => $3),
       updated_at = now()
 where w.id in (
        select id from writes
         where status = 'PENDING' and next_attempt_at <= now()
         order by next_attempt_at, id
         limit $1
           for update skip locked)
returning {_COLUMNS}
"""  # noqa: S608
_APPLIED = """
update writes
   set status = 'APPLIED', record_id = $3, reason = null, input = '{}'::jsonb,
       finished_at = now(), updated_at = now(), claim_token = null
 where id = $1 and claim_token = $2 and status = 'PENDING'
"""
_RETRY = """
update writes
   set next_attempt_at = now() + make_interval(secs => $3), last_error = $4, reason = $4,
       updated_at = now(), claim_token = null
 where id = $1 and claim_token = $2 and status = 'PENDING'
"""
_FAILED = """
update writes
   set status = 'FAILED', reason = $3, last_error = coalesce($3, last_error),
       input = '{}'::jsonb, finished_at = now(), updated_at = now(), claim_token = null
 where id = $1 and claim_token = $2 and status = 'PENDING'
"""
_COUNTS = "select status, count(*) from writes group by status"
_OLDEST_PENDING = """
select coalesce(extract(epoch from now() - min(created_at)), 0)::float8
  from writes where status = 'PENDING'
"""


@dataclass(frozen=True, slots=True)
class NewWrite:
    """A write as a request accepts it."""

    principal: str
    principal_role: str
    idempotency_key: str
    input_hash: str
    kind: str
    source: str
    customer_id: str
    target_record_id: str
    input: dict[str, Any]
    fields: tuple[str, ...]
    expected_version: str | None
    vendor_key: str
    interaction_id: str | None


@dataclass(frozen=True, slots=True)
class WriteRow:
    """One row of ``writes``."""

    id: str
    principal: str
    principal_role: str
    idempotency_key: str
    input_hash: str
    kind: str
    source: str
    customer_id: str
    target_record_id: str
    input: dict[str, Any]
    fields: tuple[str, ...]
    expected_version: str | None
    vendor_key: str
    status: str
    record_id: str | None
    reason: str | None
    attempts: int
    claim_token: str | None
    last_error: str | None
    interaction_id: str | None
    created_at: datetime
    finished_at: datetime | None
    #: Whose write it is (the tenant of the request that made it).
    tenant: TenantId | None = None


def _row(record: asyncpg.Record) -> WriteRow:
    token = record["claim_token"]
    return WriteRow(
        id=str(record["id"]),
        principal=record["principal"],
        principal_role=record["principal_role"],
        idempotency_key=record["idempotency_key"],
        input_hash=record["input_hash"],
        kind=record["kind"],
        source=record["source"],
        customer_id=record["customer_id"],
        target_record_id=record["target_record_id"],
        input=json.loads(record["input"]),
        fields=tuple(record["fields"]),
        expected_version=record["expected_version"],
        vendor_key=record["vendor_key"],
        status=record["status"],
        record_id=record["record_id"],
        reason=record["reason"],
        attempts=record["attempts"],
        claim_token=str(token) if token is not None else None,
        last_error=record["last_error"],
        interaction_id=record["interaction_id"],
        created_at=record["created_at"],
        finished_at=record["finished_at"],
        tenant=TenantId(record["tenant"]),
    )


class WriteStore:
    """The writes' rows over the gateway's pool: a request's (``accept``, ``get``) are its
    tenant's, an idempotency key unique within it; the outbox worker claims every tenant's."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool
        self._tenant = store.tenant

    @property
    def tenant(self) -> TenantId:
        """The tenant whose requests' writes this store accepts and reads."""
        return self._tenant

    async def accept(self, new: NewWrite, lease_seconds: float) -> tuple[WriteRow, bool]:
        """The key's row: a new one, claimed by the caller for ``lease_seconds`` (True), or
        the one the key already had (False; its input hash tells whether it is the same)."""
        token = uuid.uuid4()
        async with self._pool.acquire() as connection:
            inserted = await connection.fetchrow(
                _INSERT,
                uuid.uuid4(),
                new.principal,
                new.principal_role,
                new.idempotency_key,
                new.input_hash,
                new.kind,
                new.source,
                new.customer_id,
                new.target_record_id,
                json.dumps(new.input),
                list(new.fields),
                new.expected_version,
                new.vendor_key,
                lease_seconds,
                token,
                new.interaction_id,
                self._tenant,
            )
            if inserted is not None:
                return _row(inserted), True
            existing = await connection.fetchrow(
                _SELECT_BY_KEY, new.principal, new.idempotency_key, self._tenant
            )
        if existing is None:
            # The key's row cannot vanish (rows are never deleted): only a defect gets here.
            raise RuntimeError("the idempotency key's write is missing")
        return _row(existing), False

    async def get(self, write_id: str) -> WriteRow | None:
        """The write with this id; None for an unknown or malformed id."""
        try:
            parsed = uuid.UUID(write_id)
        except ValueError:
            return None
        record = await self._pool.fetchrow(_SELECT, parsed, self._tenant)
        return _row(record) if record is not None else None

    async def claim_due(self, limit: int, lease_seconds: float) -> list[WriteRow]:
        """Up to ``limit`` PENDING writes whose time has come, claimed for ``lease_seconds``."""
        records = await self._pool.fetch(_CLAIM, limit, uuid.uuid4(), lease_seconds)
        return [_row(record) for record in records]

    async def mark_applied(self, row: WriteRow, record_id: str) -> bool:
        """APPLIED, if the caller still holds the row's claim."""
        return await self._finish(_APPLIED, row, record_id)

    async def retry_later(self, row: WriteRow, delay_seconds: float, error: str) -> bool:
        """Still PENDING, tried again after ``delay_seconds``; ``error`` is a code, no value."""
        result = await self._pool.execute(
            _RETRY, uuid.UUID(row.id), _token_uuid(row), delay_seconds, error
        )
        return result.endswith(" 1")

    async def mark_failed(self, row: WriteRow, reason: str) -> bool:
        """FAILED for good with ``reason`` (the vendor's code, never a value)."""
        return await self._finish(_FAILED, row, reason)

    async def count_by_status(self) -> dict[str, int]:
        """Writes per status, for the metrics."""
        return {record[0]: record[1] for record in await self._pool.fetch(_COUNTS)}

    async def oldest_pending_seconds(self) -> float:
        """How long the oldest PENDING write has waited (0 when none waits)."""
        value = await self._pool.fetchval(_OLDEST_PENDING)
        return float(value or 0.0)

    async def _finish(self, statement: str, row: WriteRow, value: str) -> bool:
        result = await self._pool.execute(statement, uuid.UUID(row.id), _token_uuid(row), value)
        return result.endswith(" 1")


def _token_uuid(row: WriteRow) -> uuid.UUID:
    if row.claim_token is None:
        raise ValueError("the write is not claimed")
    return uuid.UUID(row.claim_token)
