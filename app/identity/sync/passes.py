"""How the sync reads each source this run: in full, or from its cursor, as the vendor allows.

Each linked source says how (its registry entry's ``LinkingSpec.plan_pass``, in
``adapters/<source>/linking.py``): the CRM its contacts modified since a time, billing its
customers created since a time (Stripe lists nothing by update time: changes to existing
customers arrive by webhook), support its incremental user export from Zendesk's own cursor.

A linked source the caller has no adapter for (it is off, or not configured) is skipped and
named in the run's report with the reason; the others are read. A source without a cursor,
or every source with ``full``, is read in full. Whichever way a
source is read, its pass ends with the cursor its next pass starts from: the vendor's own
where the source keeps one, else the time this run started less the overlap (taken before
anything was read, so that a change made during the run is read again next time rather
than missed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from adapters.registry import linked
from kernel.linking import LinkRecord, SourceCursor
from kernel.models import Source

__all__ = ["NOT_CONNECTED", "SourcePass", "SyncPasses", "plan_passes"]

#: Why a linked source is skipped when the caller gives no reason: it has no adapter.
NOT_CONNECTED = "not connected"


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
    #: Linked sources this run does not read, and why (not connected: off, not configured).
    skipped: Mapping[Source, str] = field(default_factory=dict)

    @property
    def incremental(self) -> bool:
        """Whether any source is read from its cursor (``sync_runs.mode``)."""
        return any(each.incremental for each in self.passes)

    def describe(self) -> str:
        """How each source is read, for a log line (no cursor values)."""
        read = (
            f"{each.source.value} {'incremental' if each.incremental else 'full'}"
            for each in self.passes
        )
        skipped = (f"{source.value} skipped ({why})" for source, why in self.skipped.items())
        return ", ".join([*read, *skipped])


def plan_passes(
    adapters: Mapping[Source, object],
    cursors: Mapping[Source, SourceCursor],
    *,
    started: datetime,
    overlap: timedelta,
    why_not: Mapping[Source, str] | None = None,
) -> SyncPasses:
    """The passes for a run that started at ``started``; ``cursors`` empty reads all in full.

    ``adapters`` holds the adapter (its port) of each linked source the run may read, by
    source: whatever the registry connected. A linked source without one is skipped, for the
    reason ``why_not`` gives (by default: none is connected), and its cursor stays as it was.
    """
    next_time = started - overlap
    passes = []
    skipped: dict[Source, str] = {}
    for spec in linked():
        assert spec.linking is not None
        if spec.source not in adapters:
            skipped[spec.source] = (why_not or {}).get(spec.source, NOT_CONNECTED)
            continue
        planned = spec.linking.plan_pass(adapters[spec.source], cursors.get(spec.source), next_time)
        passes.append(
            SourcePass(spec.source, planned.pages, planned.incremental, planned.next_cursor)
        )
    return SyncPasses(tuple(passes), skipped)
