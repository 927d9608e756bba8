"""Export jobs: queued by ``startExport``, worked in the gateway processes, resumable.

``Exports`` implements ``resolvers.operations.exports.ExportJobs`` (start a job, read it). Each
gateway
process runs ``ExportWorker`` tasks (``run_export_workers``, from the app's lifespan) that
claim jobs from PostgreSQL (``app.store.exports``: ``for update skip locked``, so the
workers of every process share one queue), stream the filter's rows from the read model in
batches (``CustomerFactsStore.stream_customers``, oldest customer first: an order no fact
update can reshuffle), and write each batch as one chunk, together with the cursor after it
and the rows done, in one transaction.

A job is never silently lost:

- the worker stopping (the gateway shut down) puts its job back in the queue, cursor kept,
  and the next claim, in this process or another, resumes it;
- a worker that dies without a word stops beating: once its heartbeat is older than
  ``stale_after_seconds`` any worker takes the job over from its last recorded cursor, and
  the dead worker's claim token no longer writes anything, should it wake up;
- a job claimed ``max_attempts`` times without finishing, or one whose cursor no longer
  resumes, is FAILED with an error its owner sees in ``exportStatus``.

Written here rather than on a job-queue library: the queue is one table and one
``skip locked`` claim in the PostgreSQL the gateway already has, and the exactly-once
write needs the chunk and the cursor in the same transaction as the job's progress, which
a broker-backed queue (Celery, arq, on Redis) would not give.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from app.exports.format import (
    COLUMNS,
    filter_from_json,
    filter_to_json,
    header_chunk,
    render_batch,
)
from app.exports.metrics import ExportMetrics
from app.exports.settings import ExportSettings
from app.store.exports import ClaimedJob, ExportRow, ExportStore, NewExport
from kernel.access import Principal
from kernel.client_errors import BadUserInput
from kernel.customer_facts import CustomerFactsStore, CustomerFilter, CustomerOrder
from kernel.exports import (
    ExportColumn,
    ExportFormat,
    ExportJobView,
    ExportLimitReached,
    ExportState,
)
from kernel.tenancy import TenantId

__all__ = ["ExportWorker", "Exports", "job_view", "run_export_workers"]

logger = logging.getLogger(__name__)

#: Oldest customer first: ``created_at`` never changes, so a row cannot move past the cursor
#: while the export runs (a balance order would let an updated row appear twice, or never).
EXPORT_ORDER = CustomerOrder()

#: What an export's owner reads when it failed: no exception text (it may quote data).
INTERRUPTED_TOO_OFTEN = "the export was interrupted {attempts} times and was given up"
CANNOT_RESUME = "the export could not resume where it stopped; start it again"
READ_MODEL_FAILED = "the customer read model could not be read; start the export again"

Clock = Callable[[], datetime]

#: How often an idle worker deletes the exports past retention.
PRUNE_EVERY = timedelta(minutes=10)


def job_view(row: ExportRow) -> ExportJobView:
    """A row of ``export_jobs`` as the graph shows it."""
    return ExportJobView(
        id=row.id,
        owner=row.owner,
        state=ExportState(row.state),
        export_format=ExportFormat(row.format),
        fields=tuple(row.fields),
        rows_done=row.rows_done,
        total_rows=row.total_rows,
        created_at=row.created_at,
        finished_at=row.finished_at,
        error=row.error,
    )


class Exports:
    """Starts jobs and reads them (``resolvers.operations.exports.ExportJobs``); wakes local
    workers.
    """

    def __init__(
        self,
        store: ExportStore,
        settings: ExportSettings,
        metrics: ExportMetrics,
        wake: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        #: Set when a job is queued, so this process's idle workers need not wait for a poll.
        self.wake = wake or asyncio.Event()

    async def start_export(
        self,
        owner: Principal,
        customer_filter: CustomerFilter,
        fields: Sequence[ExportColumn],
        export_format: ExportFormat,
    ) -> ExportJobView:
        """Queue a job; ``ExportLimitReached`` when the owner has too many under way, and
        ``BadUserInput`` for a column no export has."""
        unknown = [str(field) for field in fields if field not in COLUMNS]
        if unknown:
            raise BadUserInput(f"no export has the column {unknown[0]}")
        row = await self._store.create(
            NewExport(
                id=str(uuid.uuid4()),
                owner=owner.subject,
                owner_role=owner.role,
                filter=filter_to_json(customer_filter),
                fields=[str(field) for field in fields],
                format=export_format.value,
            ),
            self._settings.max_active_per_owner,
        )
        if row is None:
            raise ExportLimitReached(
                f"at most {self._settings.max_active_per_owner} exports may be queued or "
                "running at once; wait for one to finish"
            )
        self._metrics.started.inc()
        self.wake.set()
        return job_view(row)

    async def get_export(self, export_id: str) -> ExportJobView | None:
        """The job with this id; None for an unknown id or one that is not a UUID."""
        try:
            canonical = str(uuid.UUID(export_id))
        except ValueError:
            return None
        row = await self._store.get(canonical)
        return job_view(row) if row is not None else None


class _ClaimLost(Exception):
    """Another worker holds the job now: this one stops writing at once."""


class ExportWorker:
    """Claims export jobs one at a time and works each to its end (or hands it back)."""

    def __init__(
        self,
        store: ExportStore,
        facts: CustomerFactsStore,
        settings: ExportSettings,
        metrics: ExportMetrics,
        *,
        default_region: str,
        wake: asyncio.Event | None = None,
        clock: Clock = lambda: datetime.now(UTC),
        facts_of: Callable[[TenantId], CustomerFactsStore] | None = None,
    ) -> None:
        """``facts_of`` is each tenant's read model: a job exports its own tenant's
        customers (``facts`` where not given)."""
        self._store = store
        self._facts = facts
        self._facts_of = facts_of
        self._settings = settings
        self._metrics = metrics
        self._region = default_region
        self._wake = wake or asyncio.Event()
        self._clock = clock
        self._pruned_at: datetime | None = None

    async def run_forever(self) -> None:
        """Work jobs until cancelled; idle, wait for a wake-up or the next poll."""
        while True:
            # Cleared before looking, not after: a job queued while this worker looks must
            # still wake it.
            self._wake.clear()
            try:
                worked = await self.run_once()
            except Exception as exc:
                # The store is down, most likely: the job (if any) is released or will go
                # stale and be taken over; try again after a poll.
                logger.warning(
                    "export worker could not work a job", extra={"error_type": type(exc).__name__}
                )
                worked = False
            if worked:
                continue
            await self._prune()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.poll_seconds):
                    await self._wake.wait()

    async def run_once(self) -> bool:
        """Claim one job and work it.

        False when there was none to claim, or when the job met an error: the worker then
        waits a poll before it claims again, so that a blip of the database does not use up
        the job's attempts in an instant.
        """
        claim = await self._store.claim(secrets.token_hex(16), self._settings.stale_after_seconds)
        if claim is None:
            return False
        resumed = claim.job.attempts > 1 or claim.job.rows_done > 0
        self._metrics.claims.labels("resumed" if resumed else "fresh").inc()
        if claim.job.attempts > self._settings.max_attempts:
            await self._fail(claim, INTERRUPTED_TOO_OFTEN.format(attempts=claim.job.attempts - 1))
            return True
        beating = asyncio.create_task(self._beat(claim))
        try:
            await self._work(claim)
        except _ClaimLost:
            logger.warning("export job taken over by another worker", extra={"job": claim.job.id})
        except asyncio.CancelledError:
            # Stopping: hand the job back with its cursor, so that it resumes at once elsewhere
            # rather than after a stale heartbeat.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._store.release(claim, count_attempt=False))
            raise
        except Exception as exc:
            logger.warning(
                "export job interrupted",
                extra={"job": claim.job.id, "error_type": type(exc).__name__},
            )
            # Queued again (from its cursor) while attempts remain: a blip of the database
            # should cost a retry, not the analyst's export.
            if claim.job.attempts < self._settings.max_attempts:
                await self._store.release(claim, count_attempt=True)
            else:
                await self._fail(claim, READ_MODEL_FAILED)
            return False
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
        return True

    async def _work(self, claim: ClaimedJob) -> None:
        job = claim.job
        fields = list(job.fields)
        export_format = ExportFormat(job.format)
        try:
            customer_filter = filter_from_json(job.filter)
            if any(field not in COLUMNS for field in fields):
                # A source that declared the column no longer does.
                raise ValueError("a column no export has")
        except (KeyError, TypeError, ValueError):
            await self._fail(claim, CANNOT_RESUME)
            return
        facts = (
            self._facts_of(job.tenant)
            if self._facts_of is not None and job.tenant is not None
            else self._facts
        )
        if job.total_rows is None:
            total = await facts.count_customers_matching(customer_filter)
            if not await self._store.set_total(claim, total, header_chunk(fields, export_format)):
                raise _ClaimLost
        stream = facts.stream_customers(
            customer_filter, EXPORT_ORDER, batch_size=self._settings.batch_size, after=job.cursor
        )
        try:
            async for rows, cursor in stream:
                body = render_batch(rows, fields, export_format, self._region)
                if not await self._store.append_batch(claim, len(rows), body, cursor):
                    raise _ClaimLost
                self._metrics.rows.inc(len(rows))
        except ValueError:
            # The read model no longer understands the recorded cursor (a new cursor format).
            await self._fail(claim, CANNOT_RESUME)
            return
        if await self._store.succeed(claim):
            self._metrics.finished.labels("succeeded").inc()

    async def _beat(self, claim: ClaimedJob) -> None:
        # Between batches too: a slow batch must not make a live job look dead.
        while True:
            await asyncio.sleep(self._settings.heartbeat_seconds)
            with contextlib.suppress(Exception):
                if not await self._store.heartbeat(claim):
                    return

    async def _fail(self, claim: ClaimedJob, error: str) -> None:
        if await self._store.fail(claim, error):
            self._metrics.finished.labels("failed").inc()

    async def _prune(self) -> None:
        # Retention is in hours: looking every few minutes is plenty, and spares the database
        # a delete per idle poll.
        now = self._clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        with contextlib.suppress(Exception):
            await self._store.prune(now - timedelta(hours=self._settings.retention_hours))


@asynccontextmanager
async def run_export_workers(workers: Sequence[ExportWorker]) -> AsyncIterator[None]:
    """Run ``workers`` in the background for the body; cancel them (jobs handed back) after."""
    tasks = [asyncio.create_task(worker.run_forever()) for worker in workers]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
