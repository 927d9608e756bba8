"""How the sync reads each source this run: in full, or from its cursor, as the vendor allows.

Each linked source says how (its registry entry's ``LinkingSpec.plan_pass``, in
``adapters/<source>/linking.py``): the CRM its contacts modified since a time, billing its
customers created since a time (Stripe lists nothing by update time: changes to existing
customers arrive by webhook), support its incremental user export from Zendesk's own cursor.

A source without a cursor, or every source with ``full``, is read in full. Whichever way a
source is read, its pass ends with the cursor its next pass starts from: the vendor's own
where the source keeps one, else the time this run started less the overlap (taken before
anything was read, so that a change made during the run is read again next time rather
than missed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from adapters.registry import linked
from kernel.linking import LinkRecord, SourceCursor
from kernel.models import Source

__all__ = ["SourcePass", "SyncPasses", "plan_passes"]


@dataclass(frozen=True, slots=True)
class SourcePass:
    """One source's pages for this run, and where its next run starts once they are read."""

    source: Source
    pages: AsyncIterator[list[LinkRecord]]
    incremental: bool
    #: Meaningful once every page was read and stored (a vendor's cursor moves as it reads).
    next_cursor: Callable[[], SourceCursor]


@dataclass(frozen=True, slots=True)
class SyncPasses:
    """The passes of a run, in the order they run (the registry's linking rank)."""

    passes: tuple[SourcePass, ...]

    @property
    def incremental(self) -> bool:
        """Whether any source is read from its cursor (``sync_runs.mode``)."""
        return any(each.incremental for each in self.passes)

    def describe(self) -> str:
        """How each source is read, for a log line (no cursor values)."""
        return ", ".join(
            f"{each.source.value} {'incremental' if each.incremental else 'full'}"
            for each in self.passes
        )


def plan_passes(
    adapters: Mapping[Source, object],
    cursors: Mapping[Source, SourceCursor],
    *,
    started: datetime,
    overlap: timedelta,
) -> SyncPasses:
    """The passes for a run that started at ``started``; ``cursors`` empty reads all in full.

    ``adapters`` holds each linked source's adapter (its port), by source.
    """
    next_time = started - overlap
    passes = []
    for spec in linked():
        assert spec.linking is not None
        planned = spec.linking.plan_pass(adapters[spec.source], cursors.get(spec.source), next_time)
        passes.append(
            SourcePass(spec.source, planned.pages, planned.incremental, planned.next_cursor)
        )
    return SyncPasses(tuple(passes))
