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

The sync streams: it reads one page of a source, looks up that page's links and keys in
the store, and writes the page back in one transaction. What it keeps in memory for the
whole run is the billing ids that CRM contacts point at, one entry per such contact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import aclosing, suppress
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from secrets import token_urlsafe
from typing import TypeVar

from adapters.billing import BillingAdapter
from adapters.crm import CrmAdapter
from adapters.models import BillingCustomer, CrmContact, Source, SupportUser
from adapters.normalize import normalize_email, normalize_phone
from adapters.support import SupportAdapter
from app.settings import IdentitySettings, MatchRule
from app.store import (
    DisplayName,
    KeyRow,
    LookupKey,
    MatchedBy,
    NewCustomer,
    NewLink,
    PageWrite,
    Store,
    SyncSession,
)
from resolvers.identity import CustomerId

__all__ = ["ProgressCallback", "SourceCounts", "SyncReport", "sync_identities"]

_logger = logging.getLogger(__name__)

#: Called after each page with the source and how many of its records were seen so far.
ProgressCallback = Callable[[Source, int], None]

_T = TypeVar("_T")

# A customer's display name is the best name any of its records has: a CRM name, else a
# billing name, else a support name, else an email, in that order of source again.
_NAME_RANK = {Source.CRM: 0, Source.BILLING: 1, Source.SUPPORT: 2}
_EMAIL_RANK_OFFSET = 3
_ID_RANK_OFFSET = 6


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
            f"(sync run {self.run_id}, {self.duration_seconds:.1f} s)"
        )
        return "\n".join([line(header), *(line(row) for row in rows), footer])


async def sync_identities(
    store: Store,
    billing: BillingAdapter,
    crm: CrmAdapter,
    support: SupportAdapter,
    identity_settings: IdentitySettings,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Link every CRM contact, billing customer and support user to a customer.

    Reads each source page by page (CRM first: its contacts are the anchors), writes each
    page in one transaction, and records the run in ``sync_runs``. Only one sync runs at a
    time per database: a second one waits for the first and then finds nothing new.
    Upstream errors propagate; the pages written before them stay, and the next run carries
    on from there.
    """
    started = time.monotonic()
    async with store.sync_session() as session:
        run_id = await session.start_run()
        run = _IdentitySync(session, identity_settings, progress)
        try:
            await run.sync_source(Source.CRM, crm.iter_contacts(), _from_crm)
            await run.sync_source(Source.BILLING, billing.iter_customers(), _from_billing)
            await run.sync_source(Source.SUPPORT, support.iter_users(), _from_support)
            total = await session.count_customers()
        except Exception:
            await _record_failure(session, run_id, run.counts_by_source())
            raise
        await session.finish_run(run_id, "succeeded", run.counts_by_source())
    report = SyncReport(
        run_id=run_id,
        crm=run.counts(Source.CRM),
        billing=run.counts(Source.BILLING),
        support=run.counts(Source.SUPPORT),
        total_customers=total,
        duration_seconds=time.monotonic() - started,
    )
    _logger.info("identity sync %d: %d customers, %.1f s", run_id, total, report.duration_seconds)
    return report


async def _record_failure(
    session: SyncSession, run_id: int, counts: Mapping[str, Mapping[str, int]]
) -> None:
    try:
        await session.finish_run(run_id, "failed", counts)
    except Exception:
        # The original error is the one worth raising; this one only costs the run its row.
        _logger.warning("could not record the failure of sync run %d", run_id, exc_info=True)


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
    return f"{source.value} {record.external_id}", _ID_RANK_OFFSET + rank


def _new_customer_id() -> CustomerId:
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
    ) -> None:
        self._session = session
        self._rules: tuple[MatchRule, ...] = tuple(dict.fromkeys(settings.match_rules))
        self._region = settings.default_region
        self._progress = progress
        self._clock = _Clock()
        self._tallies = {source: _Tally() for source in _NAME_RANK}
        # Billing id -> the customer of the CRM contact naming it, filled by the CRM pass;
        # the rare billing ids named by contacts of several customers are kept apart, so
        # that the common case costs one dict entry rather than a set per contact.
        self._billing_xref: dict[str, CustomerId] = {}
        self._billing_xref_shared: dict[str, set[CustomerId]] = {}

    def counts(self, source: Source) -> SourceCounts:
        return self._tallies[source].freeze()

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

    async def _sync_page(self, source: Source, records: list[_Record], tally: _Tally) -> None:
        session = self._session
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
        crm_links: dict[str, CustomerId] = {}
        if unlinked and source is Source.SUPPORT and "xref" in rules:
            crm_links = await session.links_for(
                Source.CRM, {record.xref for record, _ in unlinked if record.xref}
            )

        page = _PageBuilder(source)
        for record, record_keys in zip(records, keys, strict=True):
            known = linked.get(record.external_id)
            if known is not None:
                customer = known.customer_id
                stored_keys = known.keys
                tally.already_linked += 1
                page.propose_name(customer, record, current=known.current_name)
            else:
                match, rule, ambiguous = self._match(
                    source, record, record_keys, rules, by_key, crm_links
                )
                if match is None:
                    customer = page.create_customer(record, self._clock())
                    tally.customers_created += 1
                else:
                    customer = match
                    tally.linked_new += 1
                    page.propose_name(customer, record)
                page.link(record.external_id, customer, rule, self._clock())
                stored_keys = frozenset()
                tally.ambiguous += ambiguous
            page.update_keys(record.external_id, customer, stored_keys, record_keys)
            for key in record_keys:
                by_key.setdefault(key, set()).add(customer)
            if source is Source.CRM and record.xref:
                self._remember_billing_xref(record.xref, customer)
        await session.write_page(page.build())

    def _remember_billing_xref(self, billing_id: str, customer: CustomerId) -> None:
        shared = self._billing_xref_shared.get(billing_id)
        if shared is not None:
            shared.add(customer)
            return
        first = self._billing_xref.setdefault(billing_id, customer)
        if first != customer:
            del self._billing_xref[billing_id]
            self._billing_xref_shared[billing_id] = {first, customer}

    def _billing_xref_customers(self, billing_id: str) -> set[CustomerId]:
        shared = self._billing_xref_shared.get(billing_id)
        if shared is not None:
            return shared
        customer = self._billing_xref.get(billing_id)
        return set() if customer is None else {customer}

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
    ) -> tuple[CustomerId | None, MatchedBy, bool]:
        """The customer the first decisive rule finds, that rule, and whether a rule before
        it was ambiguous; no customer and 'anchor' when no rule finds exactly one."""
        ambiguous = False
        for rule in rules:
            candidates = self._candidates(source, record, record_keys, rule, by_key, crm_links)
            if len(candidates) == 1:
                return next(iter(candidates)), rule, ambiguous
            ambiguous = ambiguous or len(candidates) > 1
        return None, "anchor", ambiguous


class _PageBuilder:
    """Collects one page's writes; at most one name proposal per customer."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._customers: dict[CustomerId, NewCustomer] = {}
        self._names: dict[CustomerId, DisplayName] = {}
        self._links: list[NewLink] = []
        self._keys_added: list[KeyRow] = []
        self._keys_removed: list[KeyRow] = []

    def _ref(self, record: _Record) -> str:
        return f"{self._source.value}:{record.external_id}"

    def create_customer(self, record: _Record, now: datetime) -> CustomerId:
        name, rank = _display_name(self._source, record)
        customer = NewCustomer(_new_customer_id(), name, rank, self._ref(record), now)
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
        self, external_id: str, customer_id: CustomerId, rule: MatchedBy, now: datetime
    ) -> None:
        self._links.append(NewLink(external_id, customer_id, rule, now))

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
        )
