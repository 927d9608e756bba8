"""What one identity sync reports: per source, what it did with the records it read, and
the run's outcome (its id, mode, duration, the customers there are now)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from app.store.sync.values import SyncMode
from kernel.models import Source

__all__ = ["SourceCounts", "SyncReport"]


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
    #: What the run did with each linked source's records, in the order it read them.
    counts: Mapping[Source, SourceCounts]
    total_customers: int
    duration_seconds: float
    #: 'incremental' when any source was read from its saved cursor.
    mode: SyncMode = "full"
    #: The records an incremental run read, by source (what changed since the cursors);
    #: None after a full run, or when more than ``changed_limit`` were read.
    changed: Mapping[Source, frozenset[str]] | None = None
    #: Linked sources the run did not read, and why (``off``, ``not configured``).
    skipped: Mapping[Source, str] = field(default_factory=dict)

    def for_source(self, source: Source) -> SourceCounts:
        """The counts of ``source`` (none for a source the sync does not read: the IVR)."""
        return self.counts.get(source, SourceCounts())

    def format_table(self) -> str:
        """A plain-text table of the counts, one row per source, for the command line."""
        columns = [each.name for each in fields(SourceCounts)]
        rows = [
            [source.value, *(str(getattr(self.for_source(source), name)) for name in columns)]
            for source in self.counts
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
        skipped = [f"{source.value} not read: {why}" for source, why in self.skipped.items()]
        return "\n".join([line(header), *(line(row) for row in rows), *skipped, footer])
