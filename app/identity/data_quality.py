"""The data-quality report: built from the identity store, the last sync and the taxonomies.

``DataQuality`` implements ``kernel.data_quality.DataQualityReader`` for
``Query.dataQuality``; ``format_report_table`` renders the same report for ``scv sync``.
Unmapped taxonomy words are counted by each process's adapters (``adapters.taxonomy``), so
the gateway reports what its own adapters met and ``scv sync`` what the sync's met.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.registry import linked
from adapters.taxonomy import Taxonomy, taxonomies_of
from app.store.customers import Store
from app.store.duplicate_days import DuplicateCandidateDays
from app.store.identity_view import IdentityViewStore, SyncRunSummary
from kernel.data_quality import (
    DataQualityReport,
    FieldCount,
    LastSync,
    SourceQuality,
    UnmappedWord,
)
from kernel.identity_evidence import CONTACT_FIELDS
from kernel.models import Source

logger = logging.getLogger(__name__)

#: The systems whose records are linked into customers, in the order the sync reads them.
LINKED_SOURCES = tuple(spec.source for spec in linked())
#: How the report names each joining source's records that match no customer: by its
#: registry entry's record noun (a source whose records anchor customers has none).
ORPHANS_LABELS: Mapping[Source, str] = {
    spec.source: f"orphan {spec.record_noun}s"
    for spec in linked()
    if spec.linking is not None and not spec.linking.anchors
}


class DataQuality:
    """Builds the report on demand, from the store and the given taxonomies."""

    def __init__(
        self,
        store: Store,
        taxonomies: Callable[[], Iterable[Taxonomy[Any]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._view = IdentityViewStore(store)
        self._taxonomies = taxonomies
        self._clock = clock

    async def data_quality_report(self) -> DataQualityReport:
        """The report as of now: six aggregate queries, no upstream call."""
        generated_at = self._clock()
        # Each on a connection of its own: the counts scan the identity tables (about a
        # second each at 100,000 customers), so side by side rather than one after another.
        customers, links, reviews, conflicts, duplicates, latest = await asyncio.gather(
            self._store.count_customers(),
            self._view.link_counts(),
            self._view.open_review_counts(),
            self._view.conflict_counts(),
            self._view.duplicate_pair_count(),
            self._view.latest_sync_run(),
        )
        await self._keep_duplicates(duplicates, generated_at)
        sources = tuple(
            SourceQuality(
                source=source,
                links=links[source].links if source in links else 0,
                standalone=links[source].standalone if source in links else 0,
                awaiting_review=reviews.get(source, 0),
                last_sync=last_sync_of(latest, source),
                orphans_label=ORPHANS_LABELS.get(source),
            )
            for source in LINKED_SOURCES
        )
        return DataQualityReport(
            generated_at=generated_at,
            customers=customers,
            sources=sources,
            conflicts=tuple(
                FieldCount(field=field, customers=conflicts.get(field, 0))
                for field in CONTACT_FIELDS
            ),
            duplicate_candidates=duplicates,
            unmapped_words=unmapped_words(self._taxonomies()),
        )

    async def _keep_duplicates(self, candidates: int, counted_at: datetime) -> None:
        """The count as its day's in the integration KPIs' trend; a failure costs the trend
        this reading only, never the report."""
        try:
            await DuplicateCandidateDays(self._store.pool, self._store.tenant).record(
                candidates, counted_at
            )
        except Exception:
            logger.warning("could not keep the day's duplicate candidates", exc_info=True)


def last_sync_of(run: SyncRunSummary | None, source: Source) -> LastSync | None:
    """``source``'s part of ``run``, or None when there was no run or it did not read it.

    ``linked`` is what the run linked for the first time: records joined to an existing
    customer (``linked_new``) and records that became a customer of their own
    (``customers_created``).
    """
    if run is None:
        return None
    counts = run.counts.get(source.value)
    if not isinstance(counts, Mapping):
        return None
    return LastSync(
        run_id=run.id,
        at=run.finished_at or run.started_at,
        outcome=run.outcome,
        mode=run.mode,
        seen=_count(counts, "seen"),
        linked=_count(counts, "linked_new") + _count(counts, "customers_created"),
        failed=_count(counts, "failed"),
    )


def _count(counts: Mapping[str, Any], name: str) -> int:
    value = counts.get(name, 0)
    return value if isinstance(value, int) else 0


def unmapped_words(taxonomies: Iterable[Taxonomy[Any]]) -> tuple[UnmappedWord, ...]:
    """Every unmapped word of ``taxonomies``, by source, field and word."""
    found = [
        UnmappedWord(source=taxonomy.source, field=taxonomy.field, word=word, count=count)
        for taxonomy in taxonomies
        for word, count in taxonomy.unmapped.items()
    ]
    return tuple(sorted(found, key=lambda w: (w.source.value, w.field, w.word)))


def format_report_table(report: DataQualityReport) -> str:
    """The report as plain-text tables, for the command line."""
    header = ["source", "links", "standalone", "review", "seen", "linked", "failed", "outcome"]
    rows = []
    for quality in report.sources:
        sync = quality.last_sync
        rows.append(
            [
                quality.source.value,
                str(quality.links),
                str(quality.standalone),
                str(quality.awaiting_review),
                str(sync.seen) if sync else "-",
                str(sync.linked) if sync else "-",
                str(sync.failed) if sync else "-",
                sync.outcome if sync else "not in the last sync",
            ]
        )
    lines = ["data quality", *_table(header, rows)]
    lines.append(
        f"{report.customers} customers; "
        + ", ".join(f"{c.customers} with conflicting {c.field}s" for c in report.conflicts)
        + f"; possible duplicates: {report.duplicate_candidates} "
        + ("pair" if report.duplicate_candidates == 1 else "pairs")
        + " of customers"
    )
    orphans = [q for q in report.sources if q.orphans_label is not None]
    if orphans:
        lines.append(
            "records that match no customer of another system: "
            + "; ".join(f"{q.orphans_label}: {q.orphans}" for q in orphans)
        )
    if report.unmapped_words:
        lines.append("unmapped taxonomy words:")
        lines.extend(
            _table(
                ["source", "field", "word", "count"],
                [[w.source.value, w.field, w.word, str(w.count)] for w in report.unmapped_words],
            )
        )
    else:
        lines.append("unmapped taxonomy words: none")
    return "\n".join(lines)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(row) for row in rows)]


async def print_data_quality(store: Store, adapters: Sequence[object]) -> None:
    """Print the report as tables (``scv sync``), with the adapters' unmapped words."""
    found = taxonomies_of(adapters)
    report = await DataQuality(store, lambda: found).data_quality_report()
    print(format_report_table(report))
