"""The identity sync: link every record of CRM, billing and support to one canonical customer.

CRM contacts are the anchors: each contact not linked yet creates a customer. Billing
customers, then support users, join an existing customer by the first of
``IdentitySettings.match_rules`` that finds exactly one:

- ``xref``: billing, a CRM contact whose ``billing_customer_id`` is this billing id;
  support, the linked CRM contact whose id is this user's ``external_id``;
- ``email``: a customer with this normalised email (from any record already linked);
- ``phone``: a customer with this E.164 phone.

A rule that finds several customers is ambiguous and does not link; the next rule is
tried, and a record nothing links creates its own customer (``matched_by`` 'anchor').
A record linked by an earlier run keeps its link, so a second run creates nothing. Every
record's normalised email and phone are stored as lookup keys of its customer, which is
what finds a customer by any of the formats and addresses its systems hold.

Every link stores its rule's confidence (``IdentitySettings.rule_confidence``; anchors 1.0)
and what made it (``linked_via``). Every rule is asked, so that a rule finding several
customers, or rules pointing at different ones, is written to ``identity_review`` for a
person ('ambiguous', 'rules_disagree'); the record is linked by the first decisive rule all
the same, and no rule moves another record's link or merges customers. Customers a person
unlinked a record from (``identity_decisions``) are never its candidates. Live lookups
(``app.identity.live_linking``) link what they find with this same engine, ``link_found_records``.

The sync streams: it reads one page of a source, looks up that page's links and keys in
the store, and writes the page back in one transaction. Nothing it keeps grows with the
number of records: the billing ids CRM contacts point at, which the billing pass needs, wait
in a temporary table (``app.store.sync_xrefs``). Where a source's vendor allows it, a later run
reads only what changed since the cursor the previous run saved (``app.sync.passes``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from secrets import token_urlsafe
from typing import TypeVar

from adapters.billing.client import BillingAdapter
from adapters.crm.client import CrmAdapter
from adapters.http.client import utc_now
from adapters.support.client import SupportAdapter
from app.settings import IdentitySettings, MatchRule
from app.store.customers import (
    DisplayName,
    KeyRow,
    LinkedVia,
    LookupKey,
    MatchedBy,
    NewCustomer,
    NewLink,
    PageWrite,
    Store,
    SyncMode,
    SyncSession,
)
from app.store.identity import LinkConflict, ReviewKind, ReviewRow
from app.store.sync_cursors import load_cursors, save_cursor
from app.store.sync_xrefs import BillingXrefs, MemoryXrefs, TableXrefs
from app.sync.passes import SourcePass, plan_passes
from kernel.identity import CustomerId
from kernel.models import BillingCustomer, CrmContact, Source, SupportUser
from kernel.normalize import normalize_email, normalize_phone

__all__ = [
    "FoundRecords",
    "ProgressCallback",
    "SourceCounts",
    "SyncReport",
    "link_found_records",
    "sync_identities",
]

_logger = logging.getLogger(__name__)

#: Called after each page with the source and how many of its records were seen so far.
ProgressCallback = Callable[[Source, int], None]

_T = TypeVar("_T")

#: How far back of the previous run's start an incremental read begins (``SyncSettings``).
DEFAULT_OVERLAP = timedelta(minutes=5)
#: The most records an incremental run names in its report (``SyncReport.changed``).
DEFAULT_CHANGED_LIMIT = 10_000

# A customer's display name is the best name any of its records has: a CRM name, else a
# billing name, else a support name, else an email, in that order of source again.
_NAME_RANK = {Source.CRM: 0, Source.BILLING: 1, Source.SUPPORT: 2}
_EMAIL_RANK_OFFSET = 3
_ID_RANK_OFFSET = 6

# A page planned again after a concurrent link (see ``_sync_page``) meets at most the few
# records linked meanwhile; a third conflict in a row is no race any more but a fault.
_CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """What the sync did with one source's records.

    ``seen`` = ``already_linked`` + ``linked_new`` + ``customers_created``. ``ambiguous``
    counts records that some rule matched to several customers (whether or not a later rule
    linked them); ``skipped_invalid`` counts emails and phones that did not normalise, which
    were left out of the lookup keys.
    """

    seen: int = 0
    linked_new: int = 0
    already_linked: int = 0
    customers_created: int = 0
    ambiguous: int = 0
    skipped_invalid: int = 0


@dataclass(frozen=True, slots=True)
class SyncReport:
    """The outcome of one identity sync, per source, and the customers there are now."""

    run_id: int
    crm: SourceCounts
    billing: SourceCounts
    support: SourceCounts
    total_customers: int
    duration_seconds: float
    #: 'incremental' when any source was read from its saved cursor.
    mode: SyncMode = "full"
    #: The records an incremental run read, by source (what changed since the cursors);
    #: None after a full run, or when more than ``changed_limit`` were read.
    changed: Mapping[Source, frozenset[str]] | None = None

    def for_source(self, source: Source) -> SourceCounts:
        """The counts of ``source`` (no counts for IVR, which the sync does not read)."""
        if source is Source.CRM:
            return self.crm
        if source is Source.BILLING:
            return self.billing
        if source is Source.SUPPORT:
            return self.support
        return SourceCounts()

    def format_table(self) -> str:
        """A plain-text table of the counts, one row per source, for the command line."""
        columns = [field.name for field in fields(SourceCounts)]
        rows = [
            [source.value, *(str(getattr(self.for_source(source), name)) for name in columns)]
            for source in (Source.CRM, Source.BILLING, Source.SUPPORT)
        ]
        header = ["source", *columns]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
            return "  ".join([first, *rest])

        footer = (
            f"{self.total_customers} customers in total "
            f"(sync run {self.run_id}, {self.mode}, {self.duration_seconds:.1f} s)"
        )
        return "\n".join([line(header), *(line(row) for row in rows), footer])


async def sync_identities(
    store: Store,
    billing: BillingAdapter,
    crm: CrmAdapter,
    support: SupportAdapter,
    identity_settings: IdentitySettings,
    progress: ProgressCallback | None = None,
    *,
    full: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: Callable[[], datetime] = utc_now,
    batch_records: int = 1,
    changed_limit: int = DEFAULT_CHANGED_LIMIT,
) -> SyncReport:
    """Link every CRM contact, billing customer and support user to a customer.

    Reads each source page by page (CRM first: its contacts are the anchors), writes each
    page in one transaction, and records the run in ``sync_runs``. A source with a saved
    cursor is read from it, incrementally (``app.sync.passes``); ``full`` reads every source
    in full. Consecutive upstream pages are stored together until they hold
    ``batch_records`` (1: each page on its own): the store's round trips per page, not its
    rows, are what a page costs. Only one sync runs at a time per database: a second one
    waits for the first.

    Upstream errors propagate; the pages written before them stay. A source's cursor is
    saved only when its pass is stored, so a failed pass is read again from its old
    cursor next time. CRM's is saved only once billing's pass is stored too: billing's
    cross-reference rule reads the billing ids that this run's CRM contacts name.

    An incremental run's report names the records it read (``SyncReport.changed``, up to
    ``changed_limit``), so that what derives from them can be refreshed for them alone.
    """
    started = time.monotonic()
    async with store.sync_session() as session:
        conn = session.connection
        cursors = {} if full else await load_cursors(conn)
        passes = plan_passes(crm, billing, support, cursors, started=now(), overlap=overlap)
        mode: SyncMode = "incremental" if passes.incremental else "full"
        run_id = await session.start_run(mode)
        _logger.info("identity sync %d: %s", run_id, passes.describe())
        xrefs = TableXrefs(conn)
        await xrefs.reset()
        run = _IdentitySync(session, identity_settings, progress, xrefs=xrefs)
        durations: dict[Source, float] = {}
        changed = _ChangedRecords(changed_limit if mode == "incremental" else 0)

        async def read(source_pass: SourcePass[_T], to_record: Callable[[_T], _Record]) -> None:
            began = time.monotonic()
            source = source_pass.source

            def noting(item: _T) -> _Record:
                record = to_record(item)
                changed.note(source, record.external_id)
                return record

            try:
                pages = _batched(source_pass.pages, batch_records)
                await run.sync_source(source, pages, noting)
            finally:
                durations[source_pass.source] = time.monotonic() - began

        try:
            await read(passes.crm, _from_crm)
            await read(passes.billing, _from_billing)
            await save_cursor(conn, Source.CRM, passes.crm.next_cursor())
            await save_cursor(conn, Source.BILLING, passes.billing.next_cursor())
            await read(passes.support, _from_support)
            await save_cursor(conn, Source.SUPPORT, passes.support.next_cursor())
            total = await session.count_customers()
        except Exception:
            await _record_failure(session, run_id, _with_durations(run, durations))
            raise
        finally:
            with suppress(Exception):
                # A failed drop leaves the table to the connection's next sync, which drops
                # it first; the run's own outcome is what matters here.
                await xrefs.reset()
        await session.finish_run(run_id, "succeeded", _with_durations(run, durations))
    report = SyncReport(
        run_id=run_id,
        crm=run.counts(Source.CRM),
        billing=run.counts(Source.BILLING),
        support=run.counts(Source.SUPPORT),
        total_customers=total,
        duration_seconds=time.monotonic() - started,
        mode=mode,
        changed=changed.frozen(),
    )
    _logger.info("identity sync %d: %d customers, %.1f s", run_id, total, report.duration_seconds)
    return report


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
    run: _IdentitySync, durations: Mapping[Source, float]
) -> dict[str, dict[str, int]]:
    """The run's counts per source, each with how long its pass took (``duration_ms``)."""
    counts = run.counts_by_source()
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


async def _read_ahead(pages: AsyncIterator[list[_T]]) -> AsyncGenerator[list[_T], None]:
    """The pages of ``pages``, asking upstream for the next while the caller stores this one.

    Upstream latency then overlaps the store's writes instead of adding to them.
    """

    async def next_page() -> list[_T] | None:
        try:
            return await anext(pages)
        except StopAsyncIteration:
            return None

    pending = asyncio.create_task(next_page())
    try:
        while (page := await pending) is not None:
            pending = asyncio.create_task(next_page())
            yield page
    finally:
        # Stop a fetch still under way; an error it already met is moot once the caller
        # has stopped reading (its own error, if any, is the one that propagates).
        pending.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await pending
        if isinstance(pages, AsyncGenerator):
            await pages.aclose()


# --- records found outside a sync (live lookups) ------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundRecords:
    """Records a live lookup found in each system, to be linked as the sync would."""

    crm: Sequence[CrmContact] = ()
    billing: Sequence[BillingCustomer] = ()
    support: Sequence[SupportUser] = ()

    def __bool__(self) -> bool:
        return bool(self.crm or self.billing or self.support)


async def link_found_records(
    session: SyncSession,
    identity_settings: IdentitySettings,
    found: FoundRecords,
    *,
    linked_via: LinkedVia,
) -> dict[tuple[Source, str], CustomerId]:
    """Link ``found`` by the sync's own rules and code; return each record's customer.

    The sources go in the sync's order (CRM contacts anchor, then billing, then support),
    each as one page, so a billing customer can join the CRM contact found with it. Records
    already linked keep their link; ``session`` need not hold the sync lock (a record
    linked meanwhile keeps that link: see ``_IdentitySync._sync_page``).
    """
    engine = _IdentitySync(session, identity_settings, None, linked_via=linked_via)
    linked: dict[tuple[Source, str], CustomerId] = {}
    for source, records in (
        (Source.CRM, [_from_crm(contact) for contact in found.crm]),
        (Source.BILLING, [_from_billing(customer) for customer in found.billing]),
        (Source.SUPPORT, [_from_support(user) for user in found.support]),
    ):
        unique = list({record.external_id: record for record in records}.values())
        if unique:
            page = await engine._sync_page(source, unique, engine.tally(source))
            linked.update(
                ((source, external_id), customer) for external_id, customer in page.items()
            )
    return linked


# --- one record, whatever its source -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    # CRM: the billing id the contact names; support: the CRM contact id it names.
    xref: str | None


def _from_crm(contact: CrmContact) -> _Record:
    return _Record(
        contact.id, contact.name, contact.email, contact.phone, contact.billing_customer_id
    )


def _from_billing(customer: BillingCustomer) -> _Record:
    return _Record(customer.id, customer.name, customer.email, customer.phone, None)


def _from_support(user: SupportUser) -> _Record:
    return _Record(user.id, user.name, user.email, user.phone, user.external_id)


def _display_name(source: Source, record: _Record) -> tuple[str, int]:
    rank = _NAME_RANK[source]
    if record.name and record.name.strip():
        return record.name.strip(), rank
    if record.email and record.email.strip():
        return record.email.strip(), _EMAIL_RANK_OFFSET + rank
    return placeholder_name(source, record.external_id)


def placeholder_name(source: Source, external_id: str) -> tuple[str, int]:
    """A customer's name, and its rank, when all that is known is a record's source and id.

    The worst rank of that source: any name or email of a record replaces it.
    """
    return f"{source.value} {external_id}", _ID_RANK_OFFSET + _NAME_RANK[source]


def new_customer_id() -> CustomerId:
    """A new, opaque customer id."""
    return CustomerId("cust_" + token_urlsafe(12))


# --- the run -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    seen: int = 0
    linked_new: int = 0
    already_linked: int = 0
    customers_created: int = 0
    ambiguous: int = 0
    skipped_invalid: int = 0

    def freeze(self) -> SourceCounts:
        return SourceCounts(**asdict(self))

    def add(self, other: _Tally) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


class _Clock:
    """UTC now, strictly increasing: customers created in one batch keep their order."""

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        now = datetime.now(UTC)
        if now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now


class _IdentitySync:
    def __init__(
        self,
        session: SyncSession,
        settings: IdentitySettings,
        progress: ProgressCallback | None,
        *,
        linked_via: LinkedVia = "sync",
        xrefs: BillingXrefs | None = None,
    ) -> None:
        self._session = session
        self._rules: tuple[MatchRule, ...] = tuple(dict.fromkeys(settings.match_rules))
        self._confidence = settings.rule_confidence
        self._linked_via: LinkedVia = linked_via
        self._region = settings.default_region
        self._progress = progress
        self._clock = _Clock()
        self._tallies = {source: _Tally() for source in _NAME_RANK}
        # Billing id -> the customers of the CRM contacts naming it, filled by the CRM pass
        # (``app.store.sync_xrefs``: in PostgreSQL for a whole sync, in memory by default).
        self._xrefs: BillingXrefs = MemoryXrefs() if xrefs is None else xrefs

    def counts(self, source: Source) -> SourceCounts:
        return self._tallies[source].freeze()

    def tally(self, source: Source) -> _Tally:
        return self._tallies[source]

    def counts_by_source(self) -> dict[str, dict[str, int]]:
        return {source.value: asdict(tally) for source, tally in self._tallies.items()}

    async def sync_source(
        self,
        source: Source,
        pages: AsyncIterator[list[_T]],
        to_record: Callable[[_T], _Record],
    ) -> None:
        tally = self._tallies[source]
        async with aclosing(_read_ahead(pages)) as ahead:
            async for page in ahead:
                # One record per id: an upstream that repeats a record within a page must
                # not make the page link it twice.
                records = list(
                    {record.external_id: record for record in map(to_record, page)}.values()
                )
                if not records:
                    continue
                await self._sync_page(source, records, tally)
                tally.seen += len(records)
                if self._progress is not None:
                    self._progress(source, tally.seen)

    async def _sync_page(
        self, source: Source, records: list[_Record], tally: _Tally
    ) -> dict[str, CustomerId]:
        """Link one page of records; return the customer of each (by external id).

        Without the sync lock, a live lookup may link a record of the page between the
        page's reads and its write: the write then fails as a whole (``LinkConflict``) and
        the page is planned again from fresh reads, in which that record keeps its link.
        Nothing of a failed attempt is kept (tallies and cross-references wait for success).
        """
        for attempt in range(_CONFLICT_ATTEMPTS):
            plan = await self._plan_page(source, records)
            try:
                await self._session.write_page(plan.write)
            except LinkConflict:
                if attempt + 1 == _CONFLICT_ATTEMPTS:
                    raise
                _logger.info("a %s record was linked meanwhile: page planned again", source.value)
                continue
            tally.add(plan.tally)
            await self._xrefs.remember(plan.billing_xrefs)
            return plan.customers
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _plan_page(self, source: Source, records: list[_Record]) -> _PagePlan:
        session = self._session
        tally = _Tally()
        # CRM contacts anchor customers: they are never matched to one.
        rules = () if source is Source.CRM else self._rules
        linked = await session.linked_records(source, [record.external_id for record in records])
        keys = [self._keys(record, tally) for record in records]
        unlinked = [
            (record, record_keys)
            for record, record_keys in zip(records, keys, strict=True)
            if record.external_id not in linked
        ]
        # Customers per key, from the store, then kept current with this page's own links
        # so that two new records of one page can match each other.
        by_key: dict[LookupKey, set[CustomerId]] = {}
        if unlinked and ("email" in rules or "phone" in rules):
            by_key = await session.customers_by_keys(
                {key for _, record_keys in unlinked for key in record_keys if key.kind in rules}
            )
        if unlinked and source is Source.BILLING and "xref" in rules:
            await self._xrefs.load([record.external_id for record, _ in unlinked])
        crm_links: dict[str, CustomerId] = {}
        if unlinked and source is Source.SUPPORT and "xref" in rules:
            crm_links = await session.links_for(
                Source.CRM, {record.xref for record, _ in unlinked if record.xref}
            )
        # People's "not this person" decisions: no rule may link a record there again.
        excluded: dict[str, frozenset[CustomerId]] = {}
        if unlinked and rules:
            excluded = await session.unlinked_from(
                source, [record.external_id for record, _ in unlinked]
            )

        page = _PageBuilder(source, self._linked_via)
        customers: dict[str, CustomerId] = {}
        billing_xrefs: list[tuple[str, CustomerId]] = []
        for record, record_keys in zip(records, keys, strict=True):
            known = linked.get(record.external_id)
            if known is not None:
                customer = known.customer_id
                stored_keys = known.keys
                tally.already_linked += 1
                page.propose_name(customer, record, current=known.current_name)
            else:
                match = self._match(
                    source,
                    record,
                    record_keys,
                    rules,
                    by_key,
                    crm_links,
                    excluded.get(record.external_id, frozenset()),
                )
                if match.customer is None:
                    customer = page.create_customer(record, self._clock())
                    tally.customers_created += 1
                else:
                    customer = match.customer
                    tally.linked_new += 1
                    page.propose_name(customer, record)
                # A record that created its customer is that customer's anchor: certain.
                rule: MatchedBy = "anchor" if match.rule is None else match.rule
                confidence = 1.0 if match.rule is None else self._confidence[match.rule]
                page.link(record.external_id, customer, rule, confidence, self._clock())
                page.review(match.reviews)
                stored_keys = frozenset()
                tally.ambiguous += match.undecided_before
            customers[record.external_id] = customer
            page.update_keys(record.external_id, customer, stored_keys, record_keys)
            for key in record_keys:
                by_key.setdefault(key, set()).add(customer)
            if source is Source.CRM and record.xref:
                billing_xrefs.append((record.xref, customer))
        return _PagePlan(page.build(), tally, billing_xrefs, customers)

    def _billing_xref_customers(self, billing_id: str) -> set[CustomerId]:
        return self._xrefs.customers(billing_id)

    def _keys(self, record: _Record, tally: _Tally) -> tuple[LookupKey, ...]:
        keys: list[LookupKey] = []
        if record.email and record.email.strip():
            email = normalize_email(record.email)
            if email is None:
                tally.skipped_invalid += 1
            else:
                keys.append(LookupKey("email", email))
        if record.phone and record.phone.strip():
            phone = normalize_phone(record.phone, self._region)
            if phone is None:
                tally.skipped_invalid += 1
            else:
                keys.append(LookupKey("phone", phone))
        return tuple(keys)

    def _candidates(
        self,
        source: Source,
        record: _Record,
        record_keys: Iterable[LookupKey],
        rule: MatchRule,
        by_key: Mapping[LookupKey, set[CustomerId]],
        crm_links: Mapping[str, CustomerId],
    ) -> set[CustomerId]:
        if rule == "xref":
            if source is Source.BILLING:
                return self._billing_xref_customers(record.external_id)
            linked_contact = crm_links.get(record.xref) if record.xref else None
            if source is Source.SUPPORT and linked_contact is not None:
                return {linked_contact}
            return set()
        found: set[CustomerId] = set()
        for key in record_keys:
            if key.kind == rule:
                found |= by_key.get(key, set())
        return found

    def _match(
        self,
        source: Source,
        record: _Record,
        record_keys: tuple[LookupKey, ...],
        rules: tuple[MatchRule, ...],
        by_key: Mapping[LookupKey, set[CustomerId]],
        crm_links: Mapping[str, CustomerId],
        excluded: frozenset[CustomerId],
    ) -> _Match:
        """The customer the first decisive rule finds (one candidate), and what to review.

        Every rule is asked, not only up to the decisive one, so that disagreement is seen:
        a rule finding several customers is 'ambiguous', rules pointing at different
        customers 'rules_disagree'. Either is written for a person to decide; the record is
        linked by the first decisive rule all the same (or, with none, creates a customer:
        'anchor'), and no other record's link changes. Customers a person unlinked this
        record from (``excluded``) are never candidates.
        """
        found: list[tuple[MatchRule, list[CustomerId]]] = []
        for rule in rules:
            candidates = self._candidates(source, record, record_keys, rule, by_key, crm_links)
            if candidates - excluded:
                found.append((rule, sorted(candidates - excluded)))
        decisive_at = next((i for i, (_, hits) in enumerate(found) if len(hits) == 1), len(found))
        undecided_before = any(len(hits) > 1 for _, hits in found[:decisive_at])
        reviews: list[ReviewRow] = []
        several = [(rule, hits) for rule, hits in found if len(hits) > 1]
        if several:
            reviews.append(_review(record.external_id, "ambiguous", several))
        if decisive_at < len(found):
            rule, (customer,) = found[decisive_at]
            if any(customer not in hits for _, hits in found):
                others = [(other, hits) for other, hits in found if other != rule]
                reviews.append(
                    _review(record.external_id, "rules_disagree", [(rule, [customer]), *others])
                )
            return _Match(customer, rule, tuple(reviews), undecided_before)
        return _Match(None, None, tuple(reviews), undecided_before)


@dataclass(frozen=True, slots=True)
class _Match:
    customer: CustomerId | None
    rule: MatchRule | None
    reviews: tuple[ReviewRow, ...]
    #: A rule tried before the decisive one (or any rule, with none) found several: the
    #: sync's ``ambiguous`` count, kept as it was before every rule was asked.
    undecided_before: bool


def _review(
    external_id: str, kind: ReviewKind, found: Iterable[tuple[MatchRule, list[CustomerId]]]
) -> ReviewRow:
    pairs = [(customer, rule) for rule, hits in found for customer in hits]
    return ReviewRow(
        external_id,
        kind,
        tuple(customer for customer, _ in pairs),
        tuple(rule for _, rule in pairs),
    )


@dataclass(frozen=True, slots=True)
class _PagePlan:
    """One page's writes, and what to keep of it once they are committed."""

    write: PageWrite
    tally: _Tally
    billing_xrefs: list[tuple[str, CustomerId]]
    customers: dict[str, CustomerId]


class _PageBuilder:
    """Collects one page's writes; at most one name proposal per customer."""

    def __init__(self, source: Source, linked_via: LinkedVia = "sync") -> None:
        self._source = source
        self._linked_via: LinkedVia = linked_via
        self._reviews: list[ReviewRow] = []
        self._customers: dict[CustomerId, NewCustomer] = {}
        self._names: dict[CustomerId, DisplayName] = {}
        self._links: list[NewLink] = []
        self._keys_added: list[KeyRow] = []
        self._keys_removed: list[KeyRow] = []

    def _ref(self, record: _Record) -> str:
        return f"{self._source.value}:{record.external_id}"

    def create_customer(self, record: _Record, now: datetime) -> CustomerId:
        name, rank = _display_name(self._source, record)
        customer = NewCustomer(new_customer_id(), name, rank, self._ref(record), now)
        self._customers[customer.id] = customer
        return customer.id

    def propose_name(
        self, customer_id: CustomerId, record: _Record, current: DisplayName | None = None
    ) -> None:
        """Offer ``record``'s name for the customer; ``current`` is its name, when known.

        Mirrors the store's rule (a better rank wins; the record that supplied the name may
        change it) so that names known not to change are not sent at all.
        """
        name, rank = _display_name(self._source, record)
        ref = self._ref(record)
        new = self._customers.get(customer_id)
        if new is not None:
            if rank < new.display_rank:
                self._customers[customer_id] = NewCustomer(new.id, name, rank, ref, new.created_at)
            return
        if current is not None and not (
            rank < current.rank
            or (ref == current.ref and (name, rank) != (current.name, current.rank))
        ):
            return
        proposed = self._names.get(customer_id)
        if proposed is None or rank < proposed.rank:
            self._names[customer_id] = DisplayName(customer_id, name, rank, ref)

    def link(
        self,
        external_id: str,
        customer_id: CustomerId,
        rule: MatchedBy,
        confidence: float,
        now: datetime,
    ) -> None:
        self._links.append(
            NewLink(external_id, customer_id, rule, now, confidence, self._linked_via)
        )

    def review(self, rows: Iterable[ReviewRow]) -> None:
        self._reviews.extend(rows)

    def update_keys(
        self,
        external_id: str,
        customer_id: CustomerId,
        stored: frozenset[LookupKey],
        current: tuple[LookupKey, ...],
    ) -> None:
        # Only the difference is written: a second run over unchanged records writes nothing.
        for key in current:
            if key not in stored:
                self._keys_added.append(KeyRow(external_id, customer_id, key))
        for key in stored.difference(current):
            self._keys_removed.append(KeyRow(external_id, customer_id, key))

    def build(self) -> PageWrite:
        return PageWrite(
            source=self._source,
            customers=list(self._customers.values()),
            links=self._links,
            names=list(self._names.values()),
            keys_added=self._keys_added,
            keys_removed=self._keys_removed,
            reviews=self._reviews,
        )
