"""The ``export_jobs`` and ``export_chunks`` tables (``007_exports.sql``): every export's SQL.

A job is claimed with ``for update skip locked``, so that the workers of every gateway
process share the queue without two taking the same job. Each claim draws a new token;
every later write of the worker (a batch, a heartbeat, the end) names it, and a write whose
token is no longer the job's changes nothing: a worker presumed dead, whose job another
took over, cannot add a row after that. A batch's chunk, the job's cursor and its rows
done are written in one transaction, which is what lets a resumed job write every row
exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.store.customers import Store
from kernel.tenancy import TenantId

__all__ = ["ClaimedJob", "ExportRow", "ExportStore", "NewExport"]

# One statement, so that the owner's count and the insert see the same jobs (a race of two
# concurrent starts by one owner may let one more through: a bound, not an invariant).
_INSERT_JOB = """
insert into export_jobs (tenant, id, owner, owner_role, filter, fields, format)
select $8, $1, $2, $3, $4::jsonb, $5::text[], $6
 where (select count(*) from export_jobs
         where owner = $2 and tenant = $8 and state in ('QUEUED', 'RUNNING')) < $7
returning id, owner, owner_role, filter, fields, format, state, rows_done, total_rows, cursor,
       chunks, attempts, error, created_at, finished_at, tenant
"""
_SELECT_JOB = """
select id, owner, owner_role, filter, fields, format, state, rows_done, total_rows, cursor,
       chunks, attempts, error, created_at, finished_at, tenant
  from export_jobs where id = $1 and tenant = $2
"""

# Queued jobs, oldest first; then running jobs whose worker stopped beating.
_CLAIM_JOB = """
update export_jobs as job
   set state = 'RUNNING',
       claim_token = $1,
       heartbeat_at = now(),
       started_at = coalesce(job.started_at, now()),
       attempts = job.attempts + 1
 where job.id = (
        select id from export_jobs
         where state = 'QUEUED'
            or (state = 'RUNNING' and heartbeat_at < now() - make_interval(secs => $2))
         order by state = 'RUNNING', created_at, id
         limit 1
           for update skip locked)
returning id, owner, owner_role, filter, fields, format, state, rows_done, total_rows, cursor,
       chunks, attempts, error, created_at, finished_at, tenant
"""
_SET_TOTAL = """
update export_jobs set total_rows = $3, heartbeat_at = now()
 where id = $1 and claim_token = $2 and state = 'RUNNING'
"""
_ADVANCE = """
update export_jobs
   set rows_done = rows_done + $3, cursor = $4, chunks = chunks + 1, heartbeat_at = now()
 where id = $1 and claim_token = $2 and state = 'RUNNING'
returning chunks - 1
"""
_INSERT_CHUNK = "insert into export_chunks (job_id, seq, rows, body) values ($1, $2, $3, $4)"
_HEARTBEAT = """
update export_jobs set heartbeat_at = now()
 where id = $1 and claim_token = $2 and state = 'RUNNING'
"""
_SUCCEED = """
update export_jobs
   set state = 'SUCCEEDED', total_rows = rows_done, finished_at = now(), claim_token = null
 where id = $1 and claim_token = $2 and state = 'RUNNING'
"""
_FAIL = """
update export_jobs
   set state = 'FAILED', error = $3, finished_at = now(), claim_token = null
 where id = $1 and claim_token = $2 and state = 'RUNNING'
"""
# Back in the queue with its cursor: the next claim resumes where this one stopped. A
# worker that stops in good order gives back the attempt it took ($3 = 1): restarts of the
# gateway must not use up a job's attempts.
_RELEASE = """
update export_jobs
   set state = 'QUEUED', claim_token = null, heartbeat_at = null, attempts = attempts - $3
 where id = $1 and claim_token = $2 and state = 'RUNNING'
"""
_SELECT_CHUNKS = """
select seq, body from export_chunks
 where job_id = $1 and seq > $2
 order by seq
 limit $3
"""
_PRUNE = "delete from export_jobs where finished_at < $1"
_COUNT_BY_STATE = "select state, count(*) as jobs from export_jobs group by state"


@dataclass(frozen=True, slots=True)
class NewExport:
    """A job to queue: whose, what to select (as JSON), which columns, which format."""

    id: str
    owner: str
    owner_role: str
    filter: Mapping[str, Any]
    fields: Sequence[str]
    format: str


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One row of ``export_jobs`` (without the claim's token and heartbeat)."""

    id: str
    owner: str
    owner_role: str
    filter: Mapping[str, Any]
    fields: tuple[str, ...]
    format: str
    state: str
    rows_done: int
    total_rows: int | None
    cursor: str | None
    chunks: int
    attempts: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    #: Whose customers the job exports (the tenant of the request that started it).
    tenant: TenantId | None = None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job this worker holds, and the token every write of it must name."""

    job: ExportRow
    token: str


def _row(record: asyncpg.Record) -> ExportRow:
    return ExportRow(
        id=record["id"],
        owner=record["owner"],
        owner_role=record["owner_role"],
        filter=json.loads(record["filter"]),
        fields=tuple(record["fields"]),
        format=record["format"],
        state=record["state"],
        rows_done=record["rows_done"],
        total_rows=record["total_rows"],
        cursor=record["cursor"],
        chunks=record["chunks"],
        attempts=record["attempts"],
        error=record["error"],
        created_at=record["created_at"],
        finished_at=record["finished_at"],
        tenant=TenantId(record["tenant"]),
    )


class ExportStore:
    """Export jobs and their chunks over the store's pool: a request starts and reads its
    own tenant's jobs; the workers claim every tenant's (each job names its tenant)."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool
        self._tenant = store.tenant

    async def create(self, job: NewExport, max_active_per_owner: int) -> ExportRow | None:
        """Queue ``job``; None when its owner already has ``max_active_per_owner`` under way."""
        async with self._pool.acquire() as conn:
            record = await conn.fetchrow(
                _INSERT_JOB,
                job.id,
                job.owner,
                job.owner_role,
                json.dumps(job.filter),
                list(job.fields),
                job.format,
                max_active_per_owner,
                self._tenant,
            )
        return _row(record) if record is not None else None

    async def get(self, job_id: str) -> ExportRow | None:
        """The job with this id, if any."""
        async with self._pool.acquire() as conn:
            record = await conn.fetchrow(_SELECT_JOB, job_id, self._tenant)
        return _row(record) if record is not None else None

    async def claim(self, token: str, stale_after_seconds: float) -> ClaimedJob | None:
        """Take the oldest queued job, or a running one whose heartbeat is older than allowed."""
        async with self._pool.acquire() as conn:
            record = await conn.fetchrow(_CLAIM_JOB, token, stale_after_seconds)
        return ClaimedJob(_row(record), token) if record is not None else None

    async def set_total(self, claim: ClaimedJob, total_rows: int, header: str | None) -> bool:
        """Record how many rows the filter selects, and the file's header as its first chunk.

        False (and nothing written) when the claim is no longer the job's.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            updated = await conn.execute(_SET_TOTAL, claim.job.id, claim.token, total_rows)
            if updated != "UPDATE 1":
                return False
            if header is not None:
                seq = await conn.fetchval(_ADVANCE, claim.job.id, claim.token, 0, None)
                await conn.execute(_INSERT_CHUNK, claim.job.id, seq, 0, header)
        return True

    async def append_batch(self, claim: ClaimedJob, rows: int, body: str, cursor: str) -> bool:
        """One batch's chunk, the cursor after it and the rows done, in one transaction.

        False (and nothing written) when the claim is no longer the job's.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            seq = await conn.fetchval(_ADVANCE, claim.job.id, claim.token, rows, cursor)
            if seq is None:
                return False
            await conn.execute(_INSERT_CHUNK, claim.job.id, seq, rows, body)
        return True

    async def heartbeat(self, claim: ClaimedJob) -> bool:
        """Say the job is still being worked; False when the claim is no longer the job's."""
        return await self._by_claim(_HEARTBEAT, claim)

    async def succeed(self, claim: ClaimedJob) -> bool:
        """The job is done: SUCCEEDED, its total the rows written."""
        return await self._by_claim(_SUCCEED, claim)

    async def fail(self, claim: ClaimedJob, error: str) -> bool:
        """The job is over without a file: FAILED, with ``error`` for its owner."""
        return await self._by_claim(_FAIL, claim, error)

    async def release(self, claim: ClaimedJob, *, count_attempt: bool) -> bool:
        """Put the job back in the queue with its cursor.

        ``count_attempt`` False (the worker is stopping in good order) gives the claim's
        attempt back; True (the job met an error) keeps it counted towards ``max_attempts``.
        """
        return await self._by_claim(_RELEASE, claim, 0 if count_attempt else 1)

    async def chunks(self, job_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` chunks of the job after ``after_seq``, in order: (seq, body)."""
        async with self._pool.acquire() as conn:
            records = await conn.fetch(_SELECT_CHUNKS, job_id, after_seq, limit)
        return [(record["seq"], record["body"]) for record in records]

    async def prune(self, finished_before: datetime) -> int:
        """Delete jobs (and their chunks) finished before ``finished_before``; how many went."""
        async with self._pool.acquire() as conn:
            status: str = await conn.execute(_PRUNE, finished_before)
        return int(status.rsplit(" ", 1)[-1])

    async def count_by_state(self) -> dict[str, int]:
        """Jobs per state, for ``/metrics``."""
        async with self._pool.acquire() as conn:
            records = await conn.fetch(_COUNT_BY_STATE)
        return {record["state"]: record["jobs"] for record in records}

    async def _by_claim(self, statement: str, claim: ClaimedJob, *args: object) -> bool:
        async with self._pool.acquire() as conn:
            status: str = await conn.execute(statement, claim.job.id, claim.token, *args)
        return status == "UPDATE 1"
