"""The linking engine: one page of records at a time, linked to customers and written back.

A page is planned against the store (the page's links and lookup keys, the candidates its
rules need, people's decisions) and written in one transaction: the records of an anchoring
source (the registry's ``LinkingSpec.anchors``: the CRM's contacts) create customers; other
records join one by the match rules (``app.identity.sync.matching``) or create their own.
The sync runs every page of every source through it (``app.identity.sync.runner``); a live
lookup links what it found with it too (``link_found_records``), so both link by the same
rules, confidences and review rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from adapters.registry import linked, linking_of
from app.identity.settings import IdentitySettings, MatchRule
from app.identity.sync.matching import match_record
from app.identity.sync.page_writes import PageBuilder
from app.identity.sync.report import SourceCounts
from app.store.identity import LinkConflict
from app.store.sync.session import SyncSession
from app.store.sync.values import LinkedVia, LookupKey, MatchedBy, PageWrite
from app.store.sync.xrefs import MemoryXrefs, XrefPair, Xrefs
from kernel.identity import CustomerId
from kernel.linking import LinkRecord
from kernel.models import Source
from kernel.normalize import normalize_email, normalize_phone

__all__ = ["FoundRecords", "IdentitySync", "ProgressCallback", "link_found_records"]

_logger = logging.getLogger(__name__)

#: Called after each page with the source and how many of its records were seen so far.
ProgressCallback = Callable[[Source, int], None]

_T = TypeVar("_T")

# A page planned again after a concurrent link (see ``_sync_page``) meets at most the few
# records linked meanwhile; a third conflict in a row is no race any more but a fault.
_CONFLICT_ATTEMPTS = 3


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

    records: Mapping[Source, Sequence[LinkRecord]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.records.values())


async def link_found_records(
    session: SyncSession,
    identity_settings: IdentitySettings,
    found: FoundRecords,
    *,
    linked_via: LinkedVia,
) -> dict[tuple[Source, str], CustomerId]:
    """Link ``found`` by the sync's own rules and code; return each record's customer.

    The sources go in the sync's order (the registry's linking rank: anchors first), each as
    one page, so a record can join the anchor found with it. Records already linked keep
    their link; ``session`` need not hold the sync lock (a record linked meanwhile keeps
    that link: see ``IdentitySync._sync_page``).
    """
    engine = IdentitySync(session, identity_settings, None, linked_via=linked_via)
    linked_records: dict[tuple[Source, str], CustomerId] = {}
    for spec in linked():
        records = found.records.get(spec.source, ())
        unique = list({record.external_id: record for record in records}.values())
        if unique:
            page = await engine._sync_page(spec.source, unique, engine.tally(spec.source))
            linked_records.update(
                ((spec.source, external_id), customer) for external_id, customer in page.items()
            )
    return linked_records


# --- the engine ----------------------------------------------------------------------------


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


class IdentitySync:
    """Links pages of records, source after source, and counts what it did per source."""

    def __init__(
        self,
        session: SyncSession,
        settings: IdentitySettings,
        progress: ProgressCallback | None,
        *,
        linked_via: LinkedVia = "sync",
        xrefs: Xrefs | None = None,
    ) -> None:
        self._session = session
        self._rules: tuple[MatchRule, ...] = tuple(dict.fromkeys(settings.match_rules))
        self._confidence = settings.rule_confidence
        self._linked_via: LinkedVia = linked_via
        self._region = settings.default_region
        self._progress = progress
        self._clock = _Clock()
        self._tallies = {spec.source: _Tally() for spec in linked()}
        # Named record -> the customers of the records naming it, filled by the naming
        # source's pass (``app.store.sync.xrefs``: in PostgreSQL for a whole sync, in memory
        # by default).
        self._xrefs: Xrefs = MemoryXrefs() if xrefs is None else xrefs

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
        to_record: Callable[[_T], LinkRecord],
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
        self, source: Source, records: list[LinkRecord], tally: _Tally
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
            await self._xrefs.remember(plan.xref_pairs)
            return plan.customers
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _plan_page(self, source: Source, records: list[LinkRecord]) -> _PagePlan:
        session = self._session
        tally = _Tally()
        linking = linking_of(source)
        # An anchoring source's records create customers: they are never matched to one.
        rules = () if linking.anchors else self._rules
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
        if unlinked and "xref" in rules and _named_by_others(source):
            await self._xrefs.load(source, [record.external_id for record, _ in unlinked])
        named_links: dict[str, CustomerId] = {}
        if unlinked and "xref" in rules and linking.names is not None:
            named_links = await session.links_for(
                linking.names, {record.xref for record, _ in unlinked if record.xref}
            )
        # People's "not this person" decisions: no rule may link a record there again.
        excluded: dict[str, frozenset[CustomerId]] = {}
        if unlinked and rules:
            excluded = await session.unlinked_from(
                source, [record.external_id for record, _ in unlinked]
            )

        page = PageBuilder(source, self._linked_via)
        customers: dict[str, CustomerId] = {}
        xref_pairs: list[XrefPair] = []
        # What this page's records name is kept for the named source's pass, unless that
        # source anchors (its records are never matched, so nothing would read them).
        remember = linking.names is not None and not linking_of(linking.names).anchors
        for record, record_keys in zip(records, keys, strict=True):
            known = linked.get(record.external_id)
            if known is not None:
                customer = known.customer_id
                stored_keys = known.keys
                tally.already_linked += 1
                page.propose_name(customer, record, current=known.current_name)
            else:
                match = match_record(
                    source,
                    record,
                    record_keys,
                    rules,
                    by_key,
                    named_links,
                    excluded.get(record.external_id, frozenset()),
                    self._xrefs,
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
            if remember and linking.names is not None and record.xref:
                xref_pairs.append((linking.names, record.xref, customer))
        return _PagePlan(page.build(), tally, xref_pairs, customers)

    def _keys(self, record: LinkRecord, tally: _Tally) -> tuple[LookupKey, ...]:
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


@dataclass(frozen=True, slots=True)
class _PagePlan:
    """One page's writes, and what to keep of it once they are committed."""

    write: PageWrite
    tally: _Tally
    xref_pairs: list[XrefPair]
    customers: dict[str, CustomerId]


def _named_by_others(source: Source) -> bool:
    """Whether some source's records name records of ``source`` (its ``xref`` candidates)."""
    return any(spec.linking is not None and spec.linking.names is source for spec in linked())
