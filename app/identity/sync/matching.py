"""The match rules: which existing customer a record of a source that does not anchor joins.

Each of ``IdentitySettings.match_rules`` names candidates: ``xref``, the customers of the
records the record is cross-referenced with (those naming it, such as the CRM contacts
naming a billing id; and the record it names, such as the CRM contact a support user names);
``email`` and ``phone``, the customers holding the record's lookup key of that kind. The
first rule with exactly one candidate links the record; what a person should look at
(several candidates, rules disagreeing) becomes a review row. The linking engine
(``app.identity.sync.linking``) gathers the candidates' sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.identity.settings import MatchRule
from app.store.identity import ReviewKind, ReviewRow
from app.store.sync.values import LookupKey
from app.store.sync.xrefs import Xrefs
from kernel.identity import CustomerId
from kernel.linking import LinkRecord
from kernel.models import Source

__all__ = ["match_record"]


def _candidates(
    source: Source,
    record: LinkRecord,
    record_keys: Iterable[LookupKey],
    rule: MatchRule,
    by_key: Mapping[LookupKey, set[CustomerId]],
    named_links: Mapping[str, CustomerId],
    xrefs: Xrefs,
) -> set[CustomerId]:
    if rule == "xref":
        # Named by records of an earlier pass (``xrefs``), or naming a linked record.
        found = xrefs.customers(source, record.external_id)
        named = named_links.get(record.xref) if record.xref else None
        return found | {named} if named is not None else found
    found = set()
    for key in record_keys:
        if key.kind == rule:
            found |= by_key.get(key, set())
    return found


def match_record(
    source: Source,
    record: LinkRecord,
    record_keys: tuple[LookupKey, ...],
    rules: tuple[MatchRule, ...],
    by_key: Mapping[LookupKey, set[CustomerId]],
    named_links: Mapping[str, CustomerId],
    excluded: frozenset[CustomerId],
    xrefs: Xrefs,
) -> _Match:
    """The customer the first decisive rule finds (one candidate), and what to review.

    Every rule is asked, not only up to the decisive one, so that disagreement is seen:
    a rule finding several customers is 'ambiguous', rules pointing at different
    customers 'rules_disagree'. Either is written for a person to decide; the record is
    linked by the first decisive rule all the same (or, with none, creates a customer:
    'anchor'), and no other record's link changes. Customers a person unlinked this
    record from (``excluded``) are never candidates. ``xref`` candidates are the customers of
    the records naming this one (``xrefs``, filled by an earlier pass) and of the linked
    record it names (``named_links``, by id).
    """
    found: list[tuple[MatchRule, list[CustomerId]]] = []
    for rule in rules:
        candidates = _candidates(source, record, record_keys, rule, by_key, named_links, xrefs)
        if candidates - excluded:
            found.append((rule, sorted(candidates - excluded)))
    decisive_at = next((i for i, (_, hits) in enumerate(found) if len(hits) == 1), len(found))
    undecided_before = any(len(hits) > 1 for _, hits in found[:decisive_at])
    reviews: list[ReviewRow] = []
    several = [(rule, hits) for rule, hits in found if len(hits) > 1]
    if several:
        reviews.append(_review(record.external_id, "ambiguous", several))
    if decisive_at < len(found):
        rule, (customer,) = found[decisive_at]
        if any(customer not in hits for _, hits in found):
            others = [(other, hits) for other, hits in found if other != rule]
            reviews.append(
                _review(record.external_id, "rules_disagree", [(rule, [customer]), *others])
            )
        return _Match(customer, rule, tuple(reviews), undecided_before)
    return _Match(None, None, tuple(reviews), undecided_before)


@dataclass(frozen=True, slots=True)
class _Match:
    customer: CustomerId | None
    rule: MatchRule | None
    reviews: tuple[ReviewRow, ...]
    #: A rule tried before the decisive one (or any rule, with none) found several: the
    #: sync's ``ambiguous`` count, kept as it was before every rule was asked.
    undecided_before: bool


def _review(
    external_id: str, kind: ReviewKind, found: Iterable[tuple[MatchRule, list[CustomerId]]]
) -> ReviewRow:
    pairs = [(customer, rule) for rule, hits in found for customer in hits]
    return ReviewRow(
        external_id,
        kind,
        tuple(customer for customer, _ in pairs),
        tuple(rule for _, rule in pairs),
    )
