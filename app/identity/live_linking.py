"""Live linking: a lookup the store cannot answer searches the systems, links, and answers.

A customer created in the CRM a minute ago calls before the next sync. ``LiveLinking``
(``kernel.linking.LiveLinker``) searches every linked source for the phone or email, each as
its registry entry says (concurrently: the order matters to the rules, not to the reads), or
fetches the record of a source id with the anchors its cross-reference rule needs, then
links what it found with the sync's own engine
(``app.identity.sync.linking.link_found_records``: same rules, confidences, review rows and
decisions) and answers from the store, as a lookup that found it there would.

- No sync lock: each source's records are written in one short transaction on a pooled
  connection. A record linked meanwhile by the sync or another lookup keeps that link (the
  engine re-reads the page on the primary key's conflict), and the answer is read back
  from the store afterwards, so it is whatever the store holds.
- A miss (no record anywhere, every system answered) is remembered per normalised key for
  ``live_miss_ttl_seconds``, in a bounded in-process map (``app.cache.tiers.LocalTier``,
  least recently used goes first). In process rather than in the response cache: a miss
  is a marker, not a vendor record, and the cache's entries are keyed, typed and
  invalidated per record; each worker then searches at most once per window per key.
- Concurrent lookups of one key share one search (single-flight), so a burst of calls for
  an unknown number costs the systems one search, not one per call.
- A system failing the search (an ``UpstreamError``, after the adapters' own retries and
  breakers) leaves its part out: what the others found is linked and answered; a lookup
  with a failed system is never remembered as a miss.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from adapters.entry import LinkingSpec, SourceSpec
from adapters.registry import linked, linking_of, spec_of
from app.cache.local import LocalTier
from app.identity.linking_metrics import LinkingMetrics, LookupKind, LookupOutcome
from app.identity.settings import IdentitySettings
from app.identity.sync.linking import FoundRecords, link_found_records
from app.store.customers import Store
from app.store.identity import LinksChanged
from app.store.sync.session import live_session
from kernel.errors import UpstreamError, UpstreamNotFound
from kernel.identity import CustomerId
from kernel.linking import LinkRecord, LiveAnswer
from kernel.models import Source
from resolvers.context import Sources

__all__ = ["LiveLinking"]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: What a search step hands back: the records found, and the systems that failed.
_Search = Callable[[], Awaitable[tuple[FoundRecords, tuple[Source, ...]]]]


class LiveLinking:
    """Searches the systems for what the store does not know, links it, and answers."""

    def __init__(
        self,
        store: Store,
        settings: IdentitySettings,
        *,
        metrics: LinkingMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        links_changed: LinksChanged | None = None,
    ) -> None:
        self._store = store
        self._settings = settings
        self._metrics = metrics
        self._links_changed = links_changed
        self._misses = LocalTier(
            settings.live_miss_max_entries, settings.live_miss_ttl_seconds, clock=clock
        )
        self._in_flight: dict[str, asyncio.Task[LiveAnswer]] = {}

    async def by_phone(self, e164: str, sources: Sources) -> LiveAnswer:
        """Customers with this E.164 phone, after linking what the systems hold."""

        async def search() -> tuple[FoundRecords, tuple[Source, ...]]:
            return await _search_everywhere(sources, phone=e164)

        return await self._lookup(
            "phone", f"phone:{e164}", search, lambda: self._store.find_by_phone(e164)
        )

    async def by_email(self, email: str, sources: Sources) -> LiveAnswer:
        """Customers with this normalised email, after linking what the systems hold."""

        async def search() -> tuple[FoundRecords, tuple[Source, ...]]:
            return await _search_everywhere(sources, email=email)

        return await self._lookup(
            "email", f"email:{email}", search, lambda: self._store.find_by_email(email)
        )

    async def by_source_id(self, source: Source, external_id: str, sources: Sources) -> LiveAnswer:
        """The customer of this record of ``source``, after linking it if it exists."""
        if spec_of(source).linking is None:
            # Records not linked to customers (the IVR's contacts are calls): they resolve
            # through a reference, not here.
            return LiveAnswer()

        async def search() -> tuple[FoundRecords, tuple[Source, ...]]:
            return await _fetch_record(sources, source, external_id)

        async def reread() -> list[CustomerId]:
            found = await self._store.find_by_source_id(source, external_id)
            return [] if found is None else [found]

        return await self._lookup("source_id", f"id:{source.value}:{external_id}", search, reread)

    async def _lookup(
        self,
        kind: LookupKind,
        key: str,
        search: _Search,
        reread: Callable[[], Awaitable[list[CustomerId]]],
    ) -> LiveAnswer:
        if self._misses.get(key) is not None:
            self._count(kind, "remembered_miss")
            return LiveAnswer()
        task = self._in_flight.get(key)
        if task is None:
            task = asyncio.create_task(self._search_and_link(kind, key, search, reread))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        # Shielded: one caller giving up (its request's deadline) must not cancel the
        # search the others are waiting for.
        return await asyncio.shield(task)

    def _forget(self, key: str, done: asyncio.Task[LiveAnswer]) -> None:
        self._in_flight.pop(key, None)
        # Every waiter may have given up (their deadlines): the error, if any, is theirs to
        # see, and must not be reported again as "never retrieved" when the task is freed.
        if not done.cancelled():
            done.exception()

    async def _search_and_link(
        self,
        kind: LookupKind,
        key: str,
        search: _Search,
        reread: Callable[[], Awaitable[list[CustomerId]]],
    ) -> LiveAnswer:
        found, failed = await search()
        if found:
            async with live_session(self._store) as session:
                await link_found_records(session, self._settings, found, linked_via="live")
        customers = tuple(await reread())
        if found and customers and self._links_changed is not None:
            try:
                await self._links_changed(customers)
            except Exception:
                # The lookup's answer stands; the read model catches up at the next sync.
                logger.warning("read model not updated after a live link")
        if customers:
            self._count(kind, "found")
        elif failed:
            self._count(kind, "incomplete")
        else:
            self._misses.put(key, True)
            self._count(kind, "miss")
        return LiveAnswer(customers, failed)

    def _count(self, kind: LookupKind, outcome: LookupOutcome) -> None:
        if self._metrics is not None:
            self._metrics.lookup(kind, outcome)


async def _search_everywhere(
    sources: Sources, *, email: str | None = None, phone: str | None = None
) -> tuple[FoundRecords, tuple[Source, ...]]:
    """Every linked system's records with this email or phone, searched at once (of the
    systems in ``sources``: a tenant without a system has nothing in it to find)."""
    specs = [spec for spec in linked() if spec.source in sources]
    results = await asyncio.gather(
        *(
            _attempt(spec.source, _linking(spec).search(sources.port(spec.source), email, phone))
            for spec in specs
        )
    )
    failed = tuple(source for source, records in results if records is None)
    return FoundRecords({source: records for source, records in results if records}), failed


async def _fetch_record(
    sources: Sources, source: Source, external_id: str
) -> tuple[FoundRecords, tuple[Source, ...]]:
    """The record of ``source`` with this id (if it exists), or the system that failed."""
    try:
        return await _fetch(sources, source, external_id), ()
    except UpstreamNotFound:
        return FoundRecords(), ()
    except UpstreamError as exc:
        logger.info(
            "live fetch failed",
            extra={"source": exc.source.value, "error_type": type(exc).__name__},
        )
        return FoundRecords(), (exc.source,)


async def _fetch(sources: Sources, source: Source, external_id: str) -> FoundRecords:
    """The record with the anchors its cross-reference rule needs.

    The anchoring records that may name it, searched by its email or phone (a billing
    customer: the CRM contacts with its email or phone, one of which may name it); the
    anchoring record it names, by id (a support user: the CRM contact its ``external_id``
    names). An anchor (a CRM contact) needs nothing else. Without the anchors' answer the
    record would be linked without its cross-reference, so their failure fails the lookup.
    """
    linking = linking_of(source)
    if source not in sources:
        return FoundRecords()
    record = await linking.get(sources.port(source), external_id)
    if record is None:
        return FoundRecords()
    found: dict[Source, list[LinkRecord]] = {source: [record]}
    for spec in linked():
        other = _linking(spec)
        if spec.source is source or not other.anchors or spec.source not in sources:
            continue
        if other.names is source and (record.email or record.phone):
            found[spec.source] = await other.search(
                sources.port(spec.source), record.email, record.phone
            )
        elif linking.names is spec.source and record.xref:
            named = await other.get(sources.port(spec.source), record.xref)
            found[spec.source] = [] if named is None else [named]
    return FoundRecords(found)


def _linking(spec: SourceSpec) -> LinkingSpec:
    """``spec``'s linking policy (``linked()`` yields only entries that have one)."""
    if spec.linking is None:
        raise KeyError(f"the records of {spec.source.value} are not linked to customers")
    return spec.linking


async def _attempt(source: Source, call: Awaitable[list[_T]]) -> tuple[Source, list[_T] | None]:
    """The call's records, or None when the system failed it (logged without values)."""
    try:
        return source, await call
    except UpstreamError as exc:
        logger.info(
            "live search failed", extra={"source": source.value, "error_type": type(exc).__name__}
        )
        return source, None
