"""Identity as the graph sees it: the canonical customer and its links to each system.

``IdentityStore`` is the read side the resolvers need; ``app.store.customers.Store`` implements it
over PostgreSQL, and tests may hand in any other implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType, Protocol

from kernel.models import Source

CustomerId = NewType("CustomerId", str)


@dataclass(frozen=True, slots=True)
class IdentityLink:
    """One system's record of the customer, the rule that linked it, and how sure that is.

    Two links are equal when they name the same record linked by the same rule: confidence
    and provenance describe the link, they are not part of what it is.
    """

    source: Source
    external_id: str
    matched_by: str
    confidence: float = field(default=1.0, compare=False)
    #: 'sync', 'live', 'webhook' or 'manual' (a person's decision).
    linked_via: str = field(default="sync", compare=False)
    linked_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    """The gateway's own customer: a canonical id, a display name and its links."""

    id: CustomerId
    display_name: str
    links: tuple[IdentityLink, ...]

    def link_for(self, source: Source) -> IdentityLink | None:
        """The customer's record in ``source`` (the first linked, if several), or None."""
        for link in self.links:
            if link.source is source:
                return link
        return None


class IdentityStore(Protocol):
    """Looks customers up by id and by normalised keys."""

    async def get_customers(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerRecord]:
        """The customers with these ids, with their links; unknown ids are absent."""
        ...

    async def find_by_phone(self, e164: str) -> list[CustomerId]:
        """Customers with this E.164 phone in any system, oldest customer first."""
        ...

    async def find_by_email(self, email: str) -> list[CustomerId]:
        """Customers with this normalised email in any system, oldest customer first."""
        ...

    async def first_by_phone(self, e164: str) -> CustomerRecord | None:
        """The oldest customer with this E.164 phone, with its links (one store round trip
        where ``find_by_phone`` then ``get_customers`` would take two)."""
        ...

    async def first_by_email(self, email: str) -> CustomerRecord | None:
        """The oldest customer with this normalised email, with its links (one round trip)."""
        ...

    async def find_by_source_id(self, source: Source, external_id: str) -> CustomerId | None:
        """The customer linked to this record of ``source``, if any."""
        ...
