"""One page's writes: the customers it creates, the names it proposes for customers, its
links, the lookup keys that changed and the rows for a person to review (``PageWrite``).

The linking engine (``app.identity.sync.linking``) decides; ``PageBuilder`` only collects what it
decided, so that the store writes the page in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from app.identity.sync.records import display_name, new_customer_id
from app.store.identity import ReviewRow
from app.store.sync.values import (
    DisplayName,
    KeyRow,
    LinkedVia,
    LookupKey,
    MatchedBy,
    NewCustomer,
    NewLink,
    PageWrite,
)
from kernel.identity import CustomerId
from kernel.linking import LinkRecord
from kernel.models import Source

__all__ = ["PageBuilder"]


class PageBuilder:
    """Collects one page's writes; at most one name proposal per customer."""

    def __init__(self, source: Source, linked_via: LinkedVia = "sync") -> None:
        self._source = source
        self._linked_via: LinkedVia = linked_via
        self._reviews: list[ReviewRow] = []
        self._customers: dict[CustomerId, NewCustomer] = {}
        self._names: dict[CustomerId, DisplayName] = {}
        self._links: list[NewLink] = []
        self._keys_added: list[KeyRow] = []
        self._keys_removed: list[KeyRow] = []

    def _ref(self, record: LinkRecord) -> str:
        return f"{self._source.value}:{record.external_id}"

    def create_customer(self, record: LinkRecord, now: datetime) -> CustomerId:
        name, rank = display_name(self._source, record)
        customer = NewCustomer(new_customer_id(), name, rank, self._ref(record), now)
        self._customers[customer.id] = customer
        return customer.id

    def propose_name(
        self, customer_id: CustomerId, record: LinkRecord, current: DisplayName | None = None
    ) -> None:
        """Offer ``record``'s name for the customer; ``current`` is its name, when known.

        Mirrors the store's rule (a better rank wins; the record that supplied the name may
        change it) so that names known not to change are not sent at all.
        """
        name, rank = display_name(self._source, record)
        ref = self._ref(record)
        new = self._customers.get(customer_id)
        if new is not None:
            if rank < new.display_rank:
                self._customers[customer_id] = NewCustomer(new.id, name, rank, ref, new.created_at)
            return
        if current is not None and not (
            rank < current.rank
            or (ref == current.ref and (name, rank) != (current.name, current.rank))
        ):
            return
        proposed = self._names.get(customer_id)
        if proposed is None or rank < proposed.rank:
            self._names[customer_id] = DisplayName(customer_id, name, rank, ref)

    def link(
        self,
        external_id: str,
        customer_id: CustomerId,
        rule: MatchedBy,
        confidence: float,
        now: datetime,
    ) -> None:
        self._links.append(
            NewLink(external_id, customer_id, rule, now, confidence, self._linked_via)
        )

    def review(self, rows: Iterable[ReviewRow]) -> None:
        self._reviews.extend(rows)

    def update_keys(
        self,
        external_id: str,
        customer_id: CustomerId,
        stored: frozenset[LookupKey],
        current: tuple[LookupKey, ...],
    ) -> None:
        # Only the difference is written: a second run over unchanged records writes nothing.
        for key in current:
            if key not in stored:
                self._keys_added.append(KeyRow(external_id, customer_id, key))
        for key in stored.difference(current):
            self._keys_removed.append(KeyRow(external_id, customer_id, key))

    def build(self) -> PageWrite:
        return PageWrite(
            source=self._source,
            customers=list(self._customers.values()),
            links=self._links,
            names=list(self._names.values()),
            keys_added=self._keys_added,
            keys_removed=self._keys_removed,
            reviews=self._reviews,
        )
