"""One try of one write at its system of record, and what the outbox makes of its outcome.

Used by the request that accepted the write (its first try) and by the outbox's workers
(every later one), always holding the row's claim. The system and how it is written there
come from the registry (``writer_of``); the adapters are the sources' own, uncached, so that
a version check reads the record as it is, and they are the write's own tenant's: the
outbox holds every tenant's writes, and each is delivered through ``SourcesOf`` (its
tenant's sources, with their credentials) and audited on its tenant's trail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from adapters.registry import writer_of
from app.store.writes import WriteRow, WriteStore
from app.writes.metrics import WriteMetrics
from app.writes.settings import WritesSettings
from kernel.access import AuditEntry, AuditSink
from kernel.errors import UpstreamError, UpstreamRateLimited, UpstreamUnavailable
from kernel.identity import CustomerId
from kernel.models import Source
from kernel.tenancy import TenantId
from kernel.writes import RecordChanged, WriteCommand, WriteKind, WriteStatus

logger = logging.getLogger(__name__)

#: The reason of a write whose record changed since the agent read it.
CONFLICT = "CONFLICT"
#: The reason of a write whose record is not the customer's (or no longer exists).
NOT_THE_CUSTOMERS = "NOT_FOUND"


#: A tenant's sources, uncached, by source: how a write of that tenant reaches its systems
#: (an empty mapping, or one without the write's source, for a tenant not served now).
SourcesOf = Callable[[TenantId], Mapping[Source, object]]

#: The reason a write waits whose tenant has no such source configured (it may come back).
NO_SOURCE = "SOURCE_NOT_CONFIGURED"


@dataclass(frozen=True, slots=True)
class Tried:
    """A try's outcome: the status it left the write in, and a conflict if there was one."""

    status: WriteStatus
    conflict: RecordChanged | None = None


class Delivery:
    """Tries claimed writes and records each outcome (and audits the final ones)."""

    def __init__(
        self,
        store: WriteStore,
        sources_of: SourcesOf,
        settings: WritesSettings,
        metrics: WriteMetrics,
        audit: AuditSink,
        invalidate: Callable[[TenantId, Source, str], Awaitable[None]],
    ) -> None:
        self._store = store
        self._sources_of = sources_of
        self._settings = settings
        self._metrics = metrics
        self._audit = audit
        self._invalidate = invalidate

    async def attempt(self, row: WriteRow) -> Tried:
        """Try ``row`` (claimed by the caller) once and record how it went."""
        kind = WriteKind(row.kind)
        source, write = writer_of(kind)
        adapter = self.sources_for(row.tenant or self._store.tenant).get(source)
        if adapter is None:
            # Its tenant's source is not configured (now): the write waits, and fails only
            # after its attempts, as it would for a system that stays down.
            return await self._retry(row, source, NO_SOURCE, None)
        owner = str(row.input.get("owner", ""))
        command = WriteCommand(
            kind=kind,
            record_id=row.target_record_id,
            values=row.input.get("values", {}),
            vendor_key=row.vendor_key,
            expected_version=row.expected_version,
        )
        try:
            if write.owns is not None and not await write.owns(
                adapter, owner, row.target_record_id
            ):
                return await self._fail(row, source, NOT_THE_CUSTOMERS)
            applied = await write.apply(adapter, command)
        except RecordChanged as changed:
            tried = await self._fail(row, source, CONFLICT)
            return Tried(tried.status, conflict=changed)
        except UpstreamUnavailable as exc:
            retry_after = exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
            return await self._retry(row, source, exc.code, retry_after)
        except UpstreamError as exc:
            # Rejected, not found, or an answer of the wrong shape: trying again would only
            # be refused again. The code and the vendor's category, never a value.
            return await self._fail(row, source, f"{exc.code}: {exc.message}")
        except Exception as exc:
            # A defect must not lose the write: it stays in the outbox, tried with backoff.
            # The type only: an exception's text could quote the values being written.
            logger.error(
                "write delivery failed unexpectedly",
                extra={"write_id": row.id, "error_type": type(exc).__name__},
            )
            return await self._retry(row, source, type(exc).__name__, None)
        if await self._store.mark_applied(row, applied.record_id):
            self._metrics.deliveries.labels(source.value, "applied").inc()
            await self._forget(
                row.tenant or self._store.tenant, source, owner or row.target_record_id
            )
            await self._audit_final(row, WriteStatus.APPLIED.value)
        return Tried(WriteStatus.APPLIED)

    def sources_for(self, tenant: TenantId) -> Mapping[Source, object]:
        """``tenant``'s sources, uncached, by source (what its writes are made through)."""
        return self._sources_of(tenant)

    async def _retry(
        self, row: WriteRow, source: Source, code: str, retry_after: float | None
    ) -> Tried:
        if row.attempts >= self._settings.max_attempts:
            return await self._fail(row, source, code)
        delay = self._settings.backoff(row.attempts, retry_after)
        await self._store.retry_later(row, delay, code)
        self._metrics.deliveries.labels(source.value, "retry").inc()
        return Tried(WriteStatus.PENDING)

    async def _fail(self, row: WriteRow, source: Source, reason: str) -> Tried:
        if await self._store.mark_failed(row, reason):
            self._metrics.deliveries.labels(source.value, "failed").inc()
            await self._audit_final(row, f"{WriteStatus.FAILED.value}: {reason}")
        return Tried(WriteStatus.FAILED)

    async def _forget(self, tenant: TenantId, source: Source, record_id: str) -> None:
        # The webhook the system sends will do it too; this is for the agent's next read,
        # which may come before the webhook does. The write's own tenant's: its record id
        # names a record of that tenant's account.
        try:
            await self._invalidate(tenant, source, record_id)
        except Exception:
            logger.warning("could not invalidate a written record", extra={"source": source.value})

    async def _audit_final(self, row: WriteRow, outcome: str) -> None:
        entry = AuditEntry(
            kind="WRITE",
            subject=row.principal,
            role=row.principal_role,
            outcome=outcome,
            customer_id=CustomerId(row.customer_id),
            interaction_id=row.interaction_id,
            fields=row.fields,
            detail=row.kind,
            extra={"write_id": row.id},
            # The outbox delivers every tenant's writes: each outcome on its own tenant's trail.
            tenant=row.tenant,
        )
        try:
            await self._audit.record([entry])
        except Exception:
            # Accepted writes were audited before they were tried; an outcome that cannot be
            # recorded is still the write's row, and its status is what clients read.
            logger.warning("a write's outcome could not be audited", extra={"write_id": row.id})
