"""What the store knows about a customer's identity, and what follows from it.

The identity store keeps, for every linked record, its normalised email and phone (the
lookup keys). From those alone the graph can show, without calling any system:

- every email and phone the customer's records hold, and which system holds each;
- where the records disagree on the same fact after normalisation (a conflict), and which
  value to believe: the configured system of record's, else the next system in the
  fallback order (``IdentityEvidence.fallback_order``);
- other customers that may be the same person (duplicate leads): customers holding the same
  key, and customers the linking rules named together without deciding (``identity_review``).

Names are not compared for conflicts: the store keeps one display name per customer, not one
per record, and reading every record's name would cost a call to each system per customer.

``IdentityEvidenceStore`` is the read side the resolvers need (``app.store.identity_view``
implements it over PostgreSQL); ``resolvers.loaders.IdentityEvidenceLoaders`` batches it per
request so that a page of customers costs one query per kind of evidence, not one per customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kernel.identity import CustomerId
from kernel.models import Source

KeyKind = Literal["email", "phone"]
ReviewKind = Literal["ambiguous", "rules_disagree"]

#: The facts conflicts are found for: the contact keys the store holds per record.
CONTACT_FIELDS: tuple[KeyKind, ...] = ("email", "phone")

#: Other customers the store gives per customer, the oldest: ``possibleDuplicates(first:)``
#: asks for at most this many, and a number shared by thousands (a switchboard) must not
#: bring all of them back for every customer of a page.
MAX_CANDIDATES = 100

_KEY_NOUN = {"email": "email address", "phone": "phone number"}


@dataclass(frozen=True, slots=True)
class ContactKey:
    """One normalised email or phone of one linked record."""

    kind: KeyKind
    value: str
    source: Source
    external_id: str


@dataclass(frozen=True, slots=True)
class SharedKeyLead:
    """Another customer has a record holding the same normalised email or phone."""

    other: CustomerId
    kind: KeyKind
    source: Source
    external_id: str


@dataclass(frozen=True, slots=True)
class ReviewLead:
    """The linking rules named this customer and ``other`` for one record, undecided.

    ``ambiguous``: a rule found several customers; ``rules_disagree``: the record's rules
    pointed at different customers. ``rules`` are the rules involved, in the row's order.
    """

    other: CustomerId
    kind: ReviewKind
    source: Source
    external_id: str
    rules: tuple[str, ...]


DuplicateLead = SharedKeyLead | ReviewLead


@dataclass(frozen=True, slots=True)
class SourcedKey:
    """A value and the system holding it; one per (value, source) of a customer."""

    value: str
    source: Source
    is_system_of_record: bool


@dataclass(frozen=True, slots=True)
class KeyConflict:
    """The customer's records hold different values for ``field``; ``chosen`` is believed."""

    field: KeyKind
    values: tuple[SourcedKey, ...]
    chosen: SourcedKey


class IdentityEvidenceStore(Protocol):
    """The store's evidence about customers, for many customers at once."""

    async def contact_keys(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[ContactKey, ...]]:
        """Each customer's keys, its records in the order they were linked; none: absent."""
        ...

    async def duplicate_leads(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[DuplicateLead, ...]]:
        """Each customer's leads to the oldest ``MAX_CANDIDATES`` other customers, oldest
        first, leaving out every pair a supervisor decided are different people (an unlink
        between them); none: absent."""
        ...


@dataclass(frozen=True, slots=True)
class IdentityEvidence:
    """What the app hands each request: the evidence store and the systems of record."""

    store: IdentityEvidenceStore
    #: Fact (``email``, ``phone``, ``name``, ...; see ``SCV_IDENTITY__SYSTEM_OF_RECORD``) ->
    #: the system whose value is believed.
    system_of_record: Mapping[str, Source]
    #: Whose value is chosen when the system of record has none for a fact: the first of
    #: these that has one (the source registry's linking order; a source not named comes
    #: last).
    fallback_order: Sequence[Source] = ()
    #: How a reason names one system's record, for a supervisor (``CRM contact``); a source
    #: not named here is "<source> record".
    record_nouns: Mapping[Source, str] = field(default_factory=dict)


# --- what follows from the evidence ---------------------------------------------------------


def preference(
    fact: str, system_of_record: Mapping[str, Source], fallback_order: Sequence[Source] = ()
) -> tuple[Source, ...]:
    """The systems whose value of ``fact`` is believed, best first: its system of record,
    then ``fallback_order``."""
    first = system_of_record.get(fact)
    rest = tuple(source for source in fallback_order if source is not first)
    return rest if first is None else (first, *rest)


def sourced_values(
    keys: Iterable[ContactKey],
    kind: KeyKind,
    system_of_record: Mapping[str, Source],
    fallback_order: Sequence[Source] = (),
) -> list[SourcedKey]:
    """One entry per (value, source) of ``kind``, the believed systems first, then in the
    order the records were linked."""
    order = preference(kind, system_of_record, fallback_order)
    rank = {source: position for position, source in enumerate(order)}
    believed = system_of_record.get(kind)
    unique: dict[tuple[str, Source], SourcedKey] = {}
    for key in keys:
        if key.kind == kind and (key.value, key.source) not in unique:
            unique[(key.value, key.source)] = SourcedKey(
                key.value, key.source, key.source is believed
            )
    # ``sorted`` is stable: within one system, the record linked first stays first.
    return sorted(unique.values(), key=lambda found: rank.get(found.source, len(rank)))


def key_conflicts(
    keys: Sequence[ContactKey],
    system_of_record: Mapping[str, Source],
    fallback_order: Sequence[Source] = (),
) -> list[KeyConflict]:
    """The contact fields on which the records disagree after normalisation.

    Values were normalised when stored (emails lower-cased, phones E.164), so
    ``ALAN.TURING@EXAMPLE.COM`` and ``alan.turing@example.com`` are one value, not a
    conflict. The chosen value is the first of ``sourced_values``: the system of record's
    (its record linked first, if it has several), else the next system that has one.
    """
    conflicts: list[KeyConflict] = []
    for kind in CONTACT_FIELDS:
        values = sourced_values(keys, kind, system_of_record, fallback_order)
        if len({found.value for found in values}) > 1:
            conflicts.append(KeyConflict(field=kind, values=tuple(values), chosen=values[0]))
    return conflicts


def duplicate_reason(
    leads: Sequence[DuplicateLead],
    *,
    same_name: bool,
    record_nouns: Mapping[Source, str] | None = None,
) -> str:
    """Why a supervisor might look at two customers, without a personal value in it.

    Records are named by system and id (``same email address as CRM contact 1005``); the
    values themselves never appear: the reason is shown to roles that see them masked.
    """
    nouns = record_nouns or {}
    parts: list[str] = []
    for kind in CONTACT_FIELDS:
        records = list(
            dict.fromkeys(
                f"{_noun(nouns, lead.source)} {lead.external_id}"
                for lead in leads
                if isinstance(lead, SharedKeyLead) and lead.kind == kind
            )
        )
        if records:
            parts.append(f"same {_KEY_NOUN[kind]} as {_and_list(records)}")
    for lead in leads:
        if isinstance(lead, ReviewLead):
            parts.append(_review_reason(lead, nouns))
    if same_name:
        parts.append("same name")
    return "; ".join(dict.fromkeys(parts))


def _noun(nouns: Mapping[Source, str], source: Source) -> str:
    return nouns.get(source) or f"{source.value.lower()} record"


def _review_reason(lead: ReviewLead, nouns: Mapping[Source, str]) -> str:
    record = f"{_noun(nouns, lead.source)} {lead.external_id}"
    rules = _and_list(list(dict.fromkeys(lead.rules))) or "a rule"
    # The record itself is linked (by a decisive rule, or as a customer of its own); what
    # is left for a person is whether these two customers are one.
    if lead.kind == "ambiguous":
        return f"{record} matches both by {rules}"
    return f"{record}: {rules} point at these two different customers"


def _and_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def same_name(one: str, other: str) -> bool:
    """Whether two display names are the same name, whatever the case and spacing."""
    return " ".join(one.casefold().split()) == " ".join(other.casefold().split())
