"""The identity sync: link every record of every linked source to one canonical customer.

The sources are read in the registry's linking order (``LinkingSpec.rank``: CRM, billing,
support). An anchoring source's records (the CRM's contacts) each create a customer when not
linked yet; the others join an existing customer by the first of
``IdentitySettings.match_rules`` that finds exactly one:

- ``xref``: the customer of a record naming this one (a CRM contact whose
  ``billing_customer_id`` is this billing id), or of the linked record this one names (the
  CRM contact whose id is a support user's ``external_id``);
- ``email``: a customer with this normalised email (from any record already linked);
- ``phone``: a customer with this E.164 phone.

A rule that finds several customers is ambiguous and does not link; the next rule is tried,
and a record nothing links creates its own customer (``matched_by`` 'anchor'). A record
linked by an earlier run keeps its link, so a second run creates nothing. Every record's
normalised email and phone are stored as lookup keys of its customer, which is what finds a
customer by any of the formats and addresses its systems hold.

Every link stores its rule's confidence (``IdentitySettings.rule_confidence``; anchors 1.0)
and what made it (``linked_via``). Every rule is asked, so that a rule finding several
customers, or rules pointing at different ones, is written to ``identity_review`` for a
person ('ambiguous', 'rules_disagree'); the record is linked by the first decisive rule all
the same, and no rule moves another record's link or merges customers. Customers a person
unlinked a record from (``identity_decisions``) are never its candidates. The rules are
``app.identity.sync.matching``'s; the engine that plans and writes each page is
``app.identity.sync.linking``'s. Live lookups (``app.identity.live_linking``) link what they
find with this same engine, ``app.identity.sync.linking.link_found_records``.

The sync streams: it reads one page of a source, looks up that page's links and keys in the
store, and writes the page back in one transaction. Nothing it keeps grows with the number
of records: the ids records name, which the named source's pass needs (the billing ids CRM
contacts point at), wait in a temporary table (``app.store.sync.xrefs``). Where a source's
vendor allows it, a later run reads only what changed since the cursor the previous run
saved (``app.identity.sync.passes``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import TypeVar

from adapters.http.client import utc_now
from adapters.registry import linking_of
from app.identity.settings import IdentitySettings
from app.identity.sync.linking import IdentitySync, ProgressCallback
from app.identity.sync.passes import SourcePass, plan_passes
from app.identity.sync.report import SyncReport
from app.store.customers import Store
from app.store.sync.cursors import load_cursors, save_cursor
from app.store.sync.session import SyncSession
from app.store.sync.values import SyncMode
from app.store.sync.xrefs import TableXrefs
from kernel.linking import LinkRecord
from kernel.models import Source

__all__ = ["sync_identities"]

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: How far back of the previous run's start an incremental read begins (``SyncSettings``).
DEFAULT_OVERLAP = timedelta(minutes=5)
#: The most records an incremental run names in its report (``SyncReport.changed``).
DEFAULT_CHANGED_LIMIT = 10_000


async def sync_identities(
    store: Store,
    adapters: Mapping[Source, object],
    identity_settings: IdentitySettings,
    progress: ProgressCallback | None = None,
    *,
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: Callable[[], datetime] = utc_now,
    batch_records: int = 1,
    changed_limit: int = DEFAULT_CHANGED_LIMIT,
    why_not: Mapping[Source, str] | None = None,
) -> SyncReport:
    """Link every record of every linked source in ``adapters`` (each one's adapter: what
    the registry connected) to a customer.

    A linked source with no adapter there is skipped, its cursor left as it was, and the
    report names it with the reason ``why_not`` gives (``off``, ``not configured``); a
    source whose records name a skipped one keeps its cursor too, so that its records are
    read again once the named source is back.

    Reads each source page by page (anchors first: the CRM's contacts), writes each
    page in one transaction, and records the run in ``sync_runs``. A source with a saved
    cursor is read from it, incrementally (``app.identity.sync.passes``); ``full`` reads every
    source
    in full. Consecutive upstream pages are stored together until they hold
    ``batch_records`` (1: each page on its own): the store's round trips per page, not its
    rows, are what a page costs. Only one sync runs at a time per database: a second one
    waits for the first.

    Upstream errors propagate; the pages written before them stay. A source's cursor is
    saved only when its pass is stored, so a failed pass is read again from its old
    cursor next time. A source whose records name another's is saved only once that
    source's pass is stored too (the CRM's after billing's): the named source's
    cross-reference rule reads the ids that this run's records name.

    An incremental run's report names the records it read (``SyncReport.changed``, up to
    ``changed_limit``), so that what derives from them can be refreshed for them alone.
    """
    started = time.monotonic()
    async with store.sync_session() as session:
        conn = session.connection
        cursors = {} if full else await load_cursors(conn, session.tenant)
        passes = plan_passes(adapters, cursors, started=now(), overlap=overlap, why_not=why_not)
        mode: SyncMode = "incremental" if passes.incremental else "full"
        run_id = await session.start_run(mode)
        _logger.info("identity sync %d: %s", run_id, passes.describe())
        for source, why in passes.skipped.items():
            _logger.warning("identity sync %d: %s is not read: %s", run_id, source.value, why)
        xrefs = TableXrefs(conn)
        await xrefs.reset()
        run = IdentitySync(session, identity_settings, progress, xrefs=xrefs)
        durations: dict[Source, float] = {}
        changed = _ChangedRecords(changed_limit if mode == "incremental" else 0)

        async def read(source_pass: SourcePass) -> None:
            began = time.monotonic()
            source = source_pass.source

            def noting(record: LinkRecord) -> LinkRecord:
                changed.note(source, record.external_id)
                return record

            try:
                pages = _batched(source_pass.pages, batch_records)
                await run.sync_source(source, pages, noting)
            finally:
                durations[source_pass.source] = time.monotonic() - began

        try:
            read_sources: set[Source] = set()
            saved: set[Source] = set()
            for source_pass in passes.passes:
                await read(source_pass)
                read_sources.add(source_pass.source)
                for each in passes.passes:
                    if each.source not in saved and _may_save(each.source, read_sources):
                        await save_cursor(conn, session.tenant, each.source, each.next_cursor())
                        saved.add(each.source)
            total = await session.count_customers()
        except Exception:
            await _record_failure(session, run_id, _with_durations(run, durations, passes.skipped))
            raise
        finally:
            with suppress(Exception):
                # A failed drop leaves the table to the connection's next sync, which drops
                # it first; the run's own outcome is what matters here.
                await xrefs.reset()
        await session.finish_run(
            run_id, "succeeded", _with_durations(run, durations, passes.skipped)
        )
    report = SyncReport(
        run_id=run_id,
        counts={each.source: run.counts(each.source) for each in passes.passes},
        total_customers=total,
        duration_seconds=time.monotonic() - started,
        mode=mode,
        changed=changed.frozen(),
        skipped=passes.skipped,
    )
    _logger.info("identity sync %d: %d customers, %.1f s", run_id, total, report.duration_seconds)
    return report


def _may_save(source: Source, read_sources: set[Source]) -> bool:
    """Whether ``source``'s cursor may be saved: its pass is stored, and so is that of the
    source its records name (whose cross-reference rule reads what they name)."""
    names = linking_of(source).names
    return source in read_sources and (names is None or names in read_sources)


class _ChangedRecords:
    """The ids of the records one incremental run read, up to a limit.

    Past the limit (or with a limit of 0: a full run) it keeps nothing and says so: that
    many changes are better refreshed in bulk than record by record.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._count = 0
        self._ids: dict[Source, set[str]] | None = {} if limit > 0 else None

    def note(self, source: Source, external_id: str) -> None:
        if self._ids is None:
            return
        bucket = self._ids.setdefault(source, set())
        if external_id in bucket:
            return
        self._count += 1
        if self._count > self._limit:
            self._ids = None
            return
        bucket.add(external_id)

    def frozen(self) -> dict[Source, frozenset[str]] | None:
        if self._ids is None:
            return None
        return {source: frozenset(ids) for source, ids in self._ids.items()}


def _with_durations(
    run: IdentitySync, durations: Mapping[Source, float], skipped: Collection[Source] = ()
) -> dict[str, dict[str, int]]:
    """The run's counts per source, each with how long its pass took (``duration_ms``); a
    source it skipped has none (it was not read: zeros would say it was, and found nothing)."""
    counts = run.counts_by_source()
    for source in skipped:
        counts.pop(source.value, None)
    for source, seconds in durations.items():
        counts[source.value]["duration_ms"] = round(seconds * 1000)
    return counts


async def _record_failure(
    session: SyncSession, run_id: int, counts: Mapping[str, Mapping[str, int]]
) -> None:
    try:
        await session.finish_run(run_id, "failed", counts)
    except Exception:
        # The original error is the one worth raising; this one only costs the run its row.
        _logger.warning("could not record the failure of sync run %d", run_id, exc_info=True)


async def _batched(
    pages: AsyncIterator[list[_T]], min_records: int
) -> AsyncGenerator[list[_T], None]:
    """Consecutive pages joined until they hold ``min_records`` (the last may hold fewer).

    Vendors page by 100 at most; storing 500 records at a time costs a fifth of the round
    trips to PostgreSQL, which on a busy machine is most of a page's time. Memory stays
    bounded by ``min_records`` plus one page.
    """
    batch: list[_T] = []
    try:
        async for page in pages:
            batch.extend(page)
            if len(batch) >= min_records:
                yield batch
                batch = []
        if batch:
            yield batch
    finally:
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()
