"""The registered sources' own facts in the read model: which sources, their passes.

A source brings facts of its own when its registry entry declares them
(``SourceSpec.facts``, a ``kernel.source_facts.FactsSpec``): the whole refresh runs one
pass per such source (``source_facts_pass``: every record's facts read in bulk, staged page
by page, added up per customer in one statement), and the webhook updater re-reads one
customer's (``FactsUpdater``). Nothing here names a source or a fact.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.entry import SourceSpec
from adapters.registry import with_facts
from app.store.facts_writer import FactsRefreshSession
from kernel.models import Source
from kernel.source_facts import FactsSpec

__all__ = ["FactsSource", "facts_sources", "source_facts_pass"]


@dataclass(frozen=True, slots=True)
class FactsSource:
    """A source whose facts the read model keeps, with its adapter (its port)."""

    source: Source
    spec: FactsSpec
    adapter: object


def facts_sources(
    adapters: Mapping[Source, object], entries: Sequence[SourceSpec] | None = None
) -> tuple[FactsSource, ...]:
    """The entries that declare facts (the registry's, unless given) among the sources
    that have an adapter here (a source not configured is left out)."""
    found = []
    for entry in with_facts() if entries is None else entries:
        adapter = adapters.get(entry.source)
        if entry.facts is not None and adapter is not None:
            found.append(FactsSource(entry.source, entry.facts, adapter))
    return tuple(found)


async def source_facts_pass(
    session: FactsRefreshSession, source: FactsSource, clock: Callable[[], datetime]
) -> int:
    """Stage every record's facts of ``source``, per reference and page, and apply them at
    once (added up per reference); how many records were read."""
    taken_at, seen = clock(), 0
    async with session.staged("source"):
        async for page in source.spec.read_all(source.adapter):
            seen += len(page)
            by_ref: dict[str, list[object]] = defaultdict(list)
            for ref, record in page:
                by_ref[ref].append(record)
            await session.stage_source_facts(
                [(ref, source.spec.compute(records)) for ref, records in by_ref.items()]
            )
        await session.apply_source_facts(source.source, source.spec, taken_at)
    return seen
