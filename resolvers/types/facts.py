"""``CustomerFacts`` in the graph: a customer's row of the read model, and how old it is.

The facts are what analysts filter pages of customers by (``Query.customers``); they come
from the ``customer_facts`` read model, not from the systems, so reading them costs no
upstream call. Each group says when it was taken from its system, and ``ageSeconds`` how
old the oldest of them is, so nobody mistakes a fact for a live value.

The facts a registered source declares of its own (its registry entry's ``facts``,
``kernel.source_facts``) are fields made here from the declarations (``orderCount``, and
``takenAt.orders``), as are the filters they offer (``CustomerFilter.hasOpenOrders``,
``source_flag_fields``): a source brings them with its entry, and no field is written here
for it. That is why this module, alone of the graph, reads the registry (its declarations
only: ``pyproject.toml``'s import contract names the exception).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import strawberry

from adapters.registry import with_facts
from kernel import customer_facts
from kernel.source_facts import FactKind, FactsSpec, flag_key

# The enums as the graph registers them: importing this module first must not make a second
# definition of either.
from resolvers.types.common import Source, SubscriptionStatus

if TYPE_CHECKING:
    # Only as a type: the entry's module reaches httpx, which the graph never imports.
    from adapters.entry import SourceSpec

__all__ = [
    "DECLARED",
    "CustomerFactsView",
    "Declared",
    "FactsTakenAt",
    "declared_facts",
    "source_fact_fields",
    "source_fact_values",
    "source_flag_fields",
    "source_flags_of",
    "source_taken_at_fields",
    "source_taken_at_values",
]

T = TypeVar("T")

#: Each source that declares facts of its own, with its declaration, in registry order.
Declared = tuple[tuple[Source, FactsSpec], ...]

_FACT_TYPES: Mapping[FactKind, object] = {
    FactKind.COUNT: int | None,
    FactKind.LATEST_TIME: datetime | None,
}


def declared_facts(entries: Sequence[SourceSpec]) -> Declared:
    """The facts ``entries`` declare (the graph's: the registry's ``with_facts()``);
    ``ValueError`` for a fact or filter name two of them declare (one graph field each)."""
    declared = tuple((entry.source, entry.facts) for entry in entries if entry.facts is not None)
    for kind, names in (
        ("fact", [fact.name for _, spec in declared for fact in spec.facts]),
        ("filter", [flag.name for _, spec in declared for flag in spec.flags]),
    ):
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"more than one source declares the {kind} {', '.join(twice)}")
    return declared


#: The registry's sources' own facts: the graph's fields and filters are made from these.
DECLARED: Declared = declared_facts(with_facts())


def _adding(fields: Mapping[str, tuple[object, Any]]) -> Callable[[type[T]], type[T]]:
    """A class decorator (under ``strawberry.type``) that adds fields to the class."""

    def add(cls: type[T]) -> type[T]:
        annotations = dict(inspect.get_annotations(cls))
        for name, (annotation, default) in fields.items():
            if name in annotations:
                raise ValueError(f"{cls.__name__}.{name} is declared twice")
            annotations[name] = annotation
            setattr(cls, name, default)
        cls.__annotations__ = annotations
        return cls

    return add


def source_fact_fields(declared: Declared) -> Callable[[type[T]], type[T]]:
    """One field per declared fact (null when its source does not know the customer)."""
    return _adding(
        {
            fact.name: (
                _FACT_TYPES[fact.kind],
                strawberry.field(default=None, description=fact.description),
            )
            for _, spec in declared
            for fact in spec.facts
        }
    )


def source_taken_at_fields(declared: Declared) -> Callable[[type[T]], type[T]]:
    """One ``takenAt`` field per source that declares facts (null: never read)."""
    return _adding(
        {
            source.value.lower(): (
                datetime | None,
                strawberry.field(default=None, description=spec.description),
            )
            for source, spec in declared
        }
    )


def source_flag_fields(declared: Declared) -> Callable[[type[T]], type[T]]:
    """One filter field per declared flag (null or absent: no condition)."""
    return _adding(
        {
            flag.name: (bool | None, strawberry.field(default=None, description=flag.description))
            for _, spec in declared
            for flag in spec.flags
        }
    )


def source_fact_values(declared: Declared, facts: customer_facts.CustomerFacts) -> dict[str, Any]:
    """The declared facts' fields of one customer's row."""
    values: dict[str, Any] = {}
    for source, spec in declared:
        row = facts.source_facts.get(source)
        for fact in spec.facts:
            values[fact.name] = row.values.get(fact.name) if row is not None else None
    return values


def source_taken_at_values(
    declared: Declared, facts: customer_facts.CustomerFacts
) -> dict[str, datetime | None]:
    """When each declaring source's facts of one customer were taken."""
    return {
        source.value.lower(): row.taken_at if (row := facts.source_facts.get(source)) else None
        for source, _ in declared
    }


def source_flags_of(declared: Declared, given: object) -> frozenset[tuple[str, bool]]:
    """The store's flags of a filter input's declared flag fields that are set."""
    return frozenset(
        (flag_key(source, flag), value)
        for source, spec in declared
        for flag in spec.flags
        if (value := getattr(given, flag.name, None)) is not None
    )


@strawberry.type(description="When each group of facts was read from its system (null: never).")
@source_taken_at_fields(DECLARED)
class FactsTakenAt:
    billing: datetime | None = strawberry.field(
        description="Balance, delinquency and subscription status."
    )
    support: datetime | None = strawberry.field(description="Ticket counts and times.")
    crm: datetime | None = strawberry.field(description="Country.")

    def times(self) -> list[datetime | None]:
        """Every group's time, the declaring sources' included."""
        return [getattr(self, field.name) for field in dataclasses.fields(self)]


@strawberry.type(
    name="CustomerFacts",
    description="A customer's facts from the gateway's read model (refreshed by the sync and "
    "by webhooks, not read live); a fact is null when its system does not know the customer.",
)
@source_fact_fields(DECLARED)
class CustomerFactsView:
    balance: Decimal | None = strawberry.field(
        description="What the customer owes on the next invoice, in `currency`."
    )
    currency: str | None
    delinquent: bool | None
    subscription_status: SubscriptionStatus | None = strawberry.field(
        description="The most relevant subscription's status: ACTIVE, PAST_DUE, UNPAID, "
        "TRIALING, PAUSED, INCOMPLETE, CANCELED, UNKNOWN, in that order; null when none."
    )
    open_ticket_count: int | None = strawberry.field(description="Tickets not solved or closed.")
    last_ticket_at: datetime | None = strawberry.field(description="When the newest was opened.")
    last_contact_at: datetime | None = strawberry.field(
        description="The newest of the customer's last IVR call and last ticket."
    )
    country: str | None = strawberry.field(description="Of the CRM address, as the CRM writes it.")
    linked_sources: list[Source] = strawberry.field(description="The systems that know them.")
    taken_at: FactsTakenAt

    @strawberry.field(
        description="Seconds since the oldest group of facts was taken (null: none was)."
    )
    def age_seconds(self) -> float | None:
        taken = [t for t in self.taken_at.times() if t]
        if not taken:
            return None
        return max(0.0, (datetime.now(UTC) - min(taken)).total_seconds())

    @classmethod
    def from_facts(cls, facts: customer_facts.CustomerFacts) -> CustomerFactsView:
        status = facts.subscription_status
        return cls(
            balance=facts.balance,
            currency=facts.currency,
            delinquent=facts.delinquent,
            subscription_status=SubscriptionStatus(status) if status is not None else None,
            open_ticket_count=facts.open_ticket_count,
            last_ticket_at=facts.last_ticket_at,
            last_contact_at=facts.last_contact_at,
            country=facts.country,
            linked_sources=list(facts.linked_sources),
            taken_at=FactsTakenAt(
                billing=facts.billing_taken_at,
                support=facts.support_taken_at,
                crm=facts.crm_taken_at,
                **source_taken_at_values(DECLARED, facts),
            ),
            **source_fact_values(DECLARED, facts),
        )
