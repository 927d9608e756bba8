"""The data-quality report's values: how well the systems' records link into customers.

The app builds a ``DataQualityReport`` (``app.identity.data_quality``) from the identity store, the
last sync run and this process's taxonomies; the graph serves it (``Query.dataQuality``) and
``scv sync`` prints it as a table. Nothing in it is personal: counts, system ids of nobody,
and vendor status words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kernel.models import Source


@dataclass(frozen=True, slots=True)
class LastSync:
    """One source's part of the latest identity sync run."""

    run_id: int
    #: When the run finished, or started if it is still running.
    at: datetime
    outcome: str
    mode: str
    seen: int
    #: Records that run linked for the first time (to an existing or a new customer).
    linked: int
    #: Records that run could not process (counted by the sync as ``failed``).
    failed: int


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """How one system's records link.

    ``standalone`` counts records that are their customer's only link: no rule joined any
    other system's record to them (for CRM: contacts the other systems do not know).
    ``awaiting_review`` counts the source's records the rules could not link on their own
    (open ``identity_review`` rows). Records that link to no customer at all cannot be
    counted by the store: every record a sync reads is linked (to a customer of its own
    when no rule finds one), and records no sync has read yet are unknown to it.
    """

    source: Source
    links: int
    standalone: int
    awaiting_review: int
    last_sync: LastSync | None
    #: How the report names the source's orphans, from its registry entry's record noun
    #: (``orphan billing customers``); None for a source whose records anchor customers
    #: (a contact no other system knows is a customer, not an orphan).
    orphans_label: str | None = None

    @property
    def orphans(self) -> int | None:
        """Records that match no customer of another system (each a customer of its own:
        its standalone records); None for a source whose records anchor customers."""
        return None if self.orphans_label is None else self.standalone


@dataclass(frozen=True, slots=True)
class FieldCount:
    """Customers whose records disagree on ``field``."""

    field: str
    customers: int


@dataclass(frozen=True, slots=True)
class UnmappedWord:
    """A vendor status word with no canonical mapping, and how often it was met."""

    source: Source
    field: str
    word: str
    count: int


@dataclass(frozen=True, slots=True)
class DataQualityReport:
    """The whole report, as of ``generated_at``."""

    generated_at: datetime
    customers: int
    sources: tuple[SourceQuality, ...]
    conflicts: tuple[FieldCount, ...]
    #: Pairs of customers that may be one person (each pair once), not decided otherwise.
    duplicate_candidates: int
    #: Met by this process since it started (taxonomies count per process).
    unmapped_words: tuple[UnmappedWord, ...]


class DataQualityReader(Protocol):
    """Builds the report on demand; the app implements it over the store."""

    async def data_quality_report(self) -> DataQualityReport:
        """The report as of now."""
        ...
