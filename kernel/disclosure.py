"""What one request disclosed about whom: the ledger the audit trail is written from.

Every personal field that resolves notes here, per customer, how it went out (unmasked,
masked or withheld) and where in the response it sits. At the end of the request the audit
extension (``resolvers.extensions.audit.RecordDisclosures``) turns the ledger into one audit entry
per
customer, and, when the audit cannot be written, uses the response paths to withdraw every
personal value before the response leaves. The ledger also remembers the access decision
made for each customer, so that a customer's hundred ticket subjects cost one decision.

It holds field names and paths only, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

from kernel.access import VerificationLevel
from kernel.identity import CustomerId

#: A response path as graphql-core gives it: keys and list indices.
ResponsePath = tuple[str | int, ...]


class Treatment(Enum):
    """How the personal fields of one customer are treated for one request."""

    #: Served as they are, up to ``Access.level``; above it, withheld with an error.
    UNMASKED = "unmasked"
    #: Served masked (``a***@example.com``), never as they are.
    MASKED = "masked"
    #: Not served at all (null with an error): the role may see no personal data.
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class Access:
    """The decision for one customer and one request; ``level`` matters when UNMASKED.

    ``redacts_free_text`` matters when MASKED: free text (the customer's own words) then goes
    out with its personal data redacted, for a role that works with the customer; otherwise
    it goes out masked whole, for a role that has no use for the customer's words.
    """

    treatment: Treatment
    level: VerificationLevel = VerificationLevel.NONE
    redacts_free_text: bool = False


@dataclass(slots=True)
class CustomerDisclosure:
    """What went out about one customer: schema coordinates (``Profile.email``) by outcome."""

    unmasked: set[str] = field(default_factory=set)
    masked: set[str] = field(default_factory=set)
    #: Withheld fields and the level each needed (None: the role may never see it).
    withheld: dict[str, VerificationLevel | None] = field(default_factory=dict)


class DisclosureLedger:
    """Per request: the decisions made and the personal fields served, by customer.

    Mutable on purpose (the request context that holds it is frozen): resolvers of one
    request run on one event loop, so plain dicts need no lock.
    """

    def __init__(self) -> None:
        self._access: dict[CustomerId, Access] = {}
        self._customers: dict[CustomerId, CustomerDisclosure] = {}
        self._served_paths: list[ResponsePath] = []

    def access_for(self, customer_id: CustomerId, decide: Callable[[], Access]) -> Access:
        """The decision for ``customer_id``, made by ``decide`` the first time it is asked."""
        access = self._access.get(customer_id)
        if access is None:
            access = self._access[customer_id] = decide()
        return access

    def touch(self, customer_id: CustomerId) -> None:
        """Note that the response carries data about ``customer_id`` (personal or not)."""
        # Not setdefault: every field of a customer calls this, and setdefault would build
        # (and drop) a CustomerDisclosure each time.
        if customer_id not in self._customers:
            self._customers[customer_id] = CustomerDisclosure()

    def served(
        self,
        customer_id: CustomerId,
        coordinate: str,
        path: Sequence[str | int] | None,
        *,
        masked: bool,
    ) -> None:
        """Note a personal field answered masked or as it is; ``path`` where a value went.

        ``path`` is None when the masked form is null (a street line): nothing to withdraw.
        """
        disclosure = self._customers.get(customer_id) or self._disclosure(customer_id)
        (disclosure.masked if masked else disclosure.unmasked).add(coordinate)
        if path is not None:
            self._served_paths.append(tuple(path))

    def withheld(
        self, customer_id: CustomerId, coordinate: str, needed: VerificationLevel | None
    ) -> None:
        """Note a personal field answered with null and an error instead of its value."""
        disclosure = self._customers.get(customer_id) or self._disclosure(customer_id)
        disclosure.withheld[coordinate] = needed

    def _disclosure(self, customer_id: CustomerId) -> CustomerDisclosure:
        disclosure = self._customers[customer_id] = CustomerDisclosure()
        return disclosure

    def customers(self) -> Iterator[tuple[CustomerId, CustomerDisclosure]]:
        """Every customer the response carries data about, in the order first touched."""
        return iter(self._customers.items())

    def reset(self) -> None:
        """Forget everything: a subscription's next event is a response of its own, decided
        afresh (the interaction may have moved) and audited on its own."""
        self._access.clear()
        self._customers.clear()
        self._served_paths.clear()

    def served_paths(self) -> list[ResponsePath]:
        """Where in the response personal values (masked or not) were put."""
        return list(self._served_paths)
