"""The PII audit trail over PostgreSQL: ``PostgresAuditSink`` and retention.

Resolvers see only ``kernel.access.AuditSink`` (write) and ``AuditReader`` (read); this
module gives the first a deadline and metrics and turns every failure into
``AuditUnavailable``, so that the caller (``resolvers.extensions.audit.RecordDisclosures``)
withholds
personal data rather than serve it unrecorded. Reading back is
``app.store.audit.AuditTrailStore``
as it is.

Retention: ``audit_prune(cutoff)`` in ``004_audit.sql`` is the only way rows leave the
table (the trigger refuses every other UPDATE and DELETE); ``prune_audit_trail`` calls it
with a cutoff from ``SCV_AUDIT__RETENTION_DAYS``, and ``scv audit-prune`` runs that. A
single table with an index on time is enough for the volumes of one contact centre;
monthly partitions dropped whole would replace it when deletes grow too slow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from app.security.audit_group import GroupedAppend
from app.security.audit_metrics import AuditMetrics
from app.security.settings import AuditSettings
from app.store.audit import AuditTrailStore, check_entries
from kernel.access import AuditEntry, AuditUnavailable

logger = logging.getLogger(__name__)


class PostgresAuditSink:
    """Appends a request's entries in one statement, within a deadline; an ``AuditSink``.

    With ``group_writes`` (the default), concurrent requests' entries share one statement
    (``app.security.audit_group``), each request still waiting for its own rows to commit.
    """

    def __init__(
        self, trail: AuditTrailStore, settings: AuditSettings, metrics: AuditMetrics
    ) -> None:
        self._trail = trail
        self._timeout = settings.write_timeout_seconds
        self._metrics = metrics
        self._grouped = (
            GroupedAppend(trail.append, settings.write_timeout_seconds)
            if settings.group_writes
            else None
        )

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` durably, or raise ``AuditUnavailable`` (never anything else)."""
        if not entries:
            return
        started = time.perf_counter()
        try:
            # Checked for this request alone: one bad entry must not fail a whole group.
            check_entries(entries)
            async with asyncio.timeout(self._timeout):
                if self._grouped is None:
                    await self._trail.append(entries)
                else:
                    await self._grouped.append(entries)
        except Exception as exc:
            self._metrics.count_write("failed")
            # The type only: a driver's message could quote a parameter, i.e. a name.
            logger.warning("audit batch not written", extra={"error_type": type(exc).__name__})
            raise AuditUnavailable("the audit trail could not be written") from exc
        finally:
            self._metrics.write_seconds.observe(time.perf_counter() - started)
        self._metrics.count_write("ok")
        for kind, count in Counter(entry.kind for entry in entries).items():
            self._metrics.count_entries(kind, count)


async def prune_audit_trail(
    trail: AuditTrailStore, settings: AuditSettings, now: datetime | None = None
) -> int:
    """Delete entries older than the retention period; return how many were deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.retention_days)
    return await trail.prune(cutoff)
