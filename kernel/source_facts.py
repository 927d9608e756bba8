"""A source's facts in the analysts' read model, as its registry entry declares them.

A registered source may bring facts of its own to ``customer_facts`` (the orders database:
how many orders, how many under way, when the last was placed). Its entry
(``adapters.registry.SourceSpec.facts``) holds a ``FactsSpec``: which facts, their names and
kinds, the filters they offer, and how they are read from the source's records. From it,
and from nothing else, the refresh and the webhook updater read them
(``app.analytics.source_facts``), the store keeps them (``app.store.source_facts``: one JSON
object per source and customer, and the filters as indexed flags), the graph serves them
(``CustomerFacts`` and ``CustomerFilter`` fields) and exports write them as columns. No code
outside the source's folder and its entry names one of them.

A fact's kind says its type, how the facts of a customer's records read page by page are
combined (counts add up, times keep the latest) and what it is for a record with none (0,
null). A flag is a filter: true for a customer whose fact is positive (a count above 0, a
time that is set), false for the rest (including customers the source does not know).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from kernel.models import Source

__all__ = [
    "FactFlag",
    "FactKind",
    "FactValue",
    "FactValues",
    "FactsSpec",
    "SourceFact",
    "SourceFactsRow",
    "flag_holds",
    "flag_key",
    "taken_at_column",
]

#: One fact's value: a count, a time, or None (not known).
FactValue = int | datetime | None
#: A record's (or a customer's) facts of one source, by fact name.
FactValues = Mapping[str, FactValue]

_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


class FactKind(Enum):
    """What a fact is: its type, how it adds up over records, its value without records."""

    #: A count (an integer, 0 or more): records' counts add up; 0 without records.
    COUNT = "count"
    #: A moment: the latest of the records'; None without records.
    LATEST_TIME = "latest_time"


@dataclass(frozen=True, slots=True)
class SourceFact:
    """One fact a source brings: its name (snake_case; ``orderCount`` in the graph and in
    export files), its kind and what it means (the GraphQL field's description)."""

    name: str
    kind: FactKind
    description: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"a fact's name is snake_case: {self.name!r}")

    @property
    def column(self) -> str:
        """Its name in the graph and in export files: ``orderCount`` for ``order_count``."""
        head, *rest = self.name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    @property
    def empty(self) -> FactValue:
        """Its value for a customer the source knows without a record of this kind."""
        return 0 if self.kind is FactKind.COUNT else None


@dataclass(frozen=True, slots=True)
class FactFlag:
    """A filter a source's facts offer analysts (``CustomerFilter.<name>``): true selects
    customers whose ``fact`` is positive, false the others."""

    name: str
    fact: str
    description: str

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"a flag's name is snake_case: {self.name!r}")


#: Every record of a source for the whole refresh, a page at a time, each with the customer
#: reference it belongs to (the external id of the customer's link to the source).
AllRecords = Callable[[Any], AsyncIterator[Sequence[tuple[str, Any]]]]
#: One customer reference's records, read now (a webhook said they changed).
OneCustomersRecords = Callable[[Any, str], Awaitable[Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class FactsSpec:
    """The facts a source's records contribute to the read model, and how they are read.

    ``read_all`` and ``read_one`` take the source's adapter (its port) and ``compute``
    makes the facts of some records of one customer reference; the facts of a customer are
    those of the reference its panels show (its first link of the source). The whole
    refresh computes them a page at a time and the store adds the pages up by kind, so
    ``compute`` must add up the same way (a count per record, the latest time).
    """

    facts: tuple[SourceFact, ...]
    #: What the group of facts is, for ``CustomerFacts.takenAt.<source>``.
    description: str
    #: What its records are called, plural (``orders``: the refresh's report line).
    records: str
    read_all: AllRecords
    read_one: OneCustomersRecords
    compute: Callable[[Sequence[Any]], FactValues]
    flags: tuple[FactFlag, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [fact.name for fact in self.facts]
        if len(set(names)) != len(names):
            raise ValueError(f"a fact is declared twice: {names}")
        for flag in self.flags:
            if flag.fact not in names:
                raise ValueError(f"the flag {flag.name} reads no declared fact ({flag.fact})")

    def fact(self, name: str) -> SourceFact:
        """The declared fact called ``name``; ``KeyError`` for another."""
        for fact in self.facts:
            if fact.name == name:
                return fact
        raise KeyError(name)

    def empty(self) -> dict[str, FactValue]:
        """The facts of a reference the source knows with no records at all."""
        return {fact.name: fact.empty for fact in self.facts}


def flag_holds(value: FactValue) -> bool:
    """Whether a fact is positive: a count above 0, a time that is set."""
    if value is None:
        return False
    if isinstance(value, datetime):
        return True
    return value > 0


def taken_at_column(source: Source) -> str:
    """The export column of when a source's facts were taken (``ordersTakenAt``), as the
    read model's own ``billingTakenAt``."""
    return f"{source.value.lower()}TakenAt"


def flag_key(source: Source, flag: FactFlag) -> str:
    """How the store names a flag among a customer's flags (``<SOURCE>.<flag name>``)."""
    return f"{source.value}.{flag.name}"


@dataclass(frozen=True, slots=True)
class SourceFactsRow:
    """One source's facts of one customer, and when they were taken (None: never)."""

    values: FactValues
    taken_at: datetime | None
