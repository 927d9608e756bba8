"""The identity behind a customer, in the graph: contact points, conflicts, possible duplicates.

``Customer.contact``, ``Customer.conflicts`` and ``Customer.possibleDuplicates`` (declared in
``resolvers.types.customer``) resolve here, from the store's evidence (``kernel.identity_evidence``)
through the request's DataLoaders: a page of customers costs one query for their keys and
one for their leads, whatever the number of customers. Every contact value is personal
(``@pii(level: MEDIUM)``) and is masked, withheld and audited like ``Profile.email``.
"""

from __future__ import annotations

import strawberry

from kernel.access import VerificationLevel
from kernel.identity import CustomerId, CustomerRecord
from kernel.identity_evidence import (
    DuplicateLead,
    KeyConflict,
    SourcedKey,
    duplicate_reason,
    key_conflicts,
    same_name,
    sourced_values,
)
from resolvers.context import RequestContext
from resolvers.extensions.masking import mask_email, mask_phone, personal
from resolvers.loaders import IdentityEvidenceLoaders

# Registered as a GraphQL enum by ``resolvers.types.common``: importing it from there makes sure
# it is registered before the types below are read.
from resolvers.types.common import Source

# ``resolvers.types.customer`` refers to this module's types lazily (their fields name Customer), so
# importing it here is no cycle.
from resolvers.types.customer import Customer

Info = strawberry.Info[RequestContext, None]


def _mask_contact(value: str, region: str) -> str:
    """Emails and phones share one field type: each is masked as what it is."""
    return mask_email(value) if "@" in value else mask_phone(value, region)


@strawberry.type(description="An email or phone, and the system that holds it.")
class SourcedValue:
    owner: strawberry.Private[CustomerId]
    # Nullable like every personal field: withheld (VERIFICATION_REQUIRED, FORBIDDEN,
    # AUDIT_UNAVAILABLE) is null with an error for this value, not for the whole customer.
    value: str | None = personal(
        VerificationLevel.MEDIUM,
        _mask_contact,
        description="Normalised: emails lower-cased, phones in E.164. Null when withheld.",
    )
    source: Source
    is_system_of_record: bool = strawberry.field(
        description="Whether this system is the configured system of record for the fact "
        "(SCV_IDENTITY__SYSTEM_OF_RECORD)."
    )

    @classmethod
    def of(cls, found: SourcedKey, owner: CustomerId) -> SourcedValue:
        return cls(
            owner=owner,
            value=found.value,
            source=found.source,
            is_system_of_record=found.is_system_of_record,
        )


@strawberry.type(description="Every email and phone the customer's linked records hold.")
class ContactPoints:
    emails: list[SourcedValue] = strawberry.field(
        description="One per (value, source), the system of record's first."
    )
    phones: list[SourcedValue] = strawberry.field(
        description="One per (value, source), the system of record's first."
    )


@strawberry.type(description="A fact the customer's linked records disagree on.")
class FieldConflict:
    field: str = strawberry.field(description="`email` or `phone`.")
    values: list[SourcedValue] = strawberry.field(description="Every value, with its system.")
    chosen: SourcedValue = strawberry.field(
        description="The value believed: the system of record's, or when it has none, the "
        "first system that has one in the order CRM, BILLING, SUPPORT, IVR."
    )

    @classmethod
    def of(cls, conflict: KeyConflict, owner: CustomerId) -> FieldConflict:
        return cls(
            field=conflict.field,
            values=[SourcedValue.of(found, owner) for found in conflict.values],
            chosen=SourcedValue.of(conflict.chosen, owner),
        )


@strawberry.type(description="Another customer who may be the same person.")
class DuplicateCandidate:
    customer: Customer
    reason: str = strawberry.field(
        description="Why, for a supervisor: the records and rules involved, never a value."
    )


def _evidence(info: Info) -> IdentityEvidenceLoaders:
    loaders = info.context.evidence
    if loaders is None:
        # A wiring defect, not the client's fault: masked as an internal error.
        raise RuntimeError("identity evidence is not wired into this request's context")
    return loaders


async def resolve_contact(record: CustomerRecord, info: Info) -> ContactPoints:
    """Every email and phone of the customer's records."""
    loaders = _evidence(info)
    keys = await loaders.contact_keys.load(record.id)
    sor = loaders.system_of_record
    return ContactPoints(
        emails=[
            SourcedValue.of(v, record.id)
            for v in sourced_values(keys, "email", sor, loaders.fallback_order)
        ],
        phones=[
            SourcedValue.of(v, record.id)
            for v in sourced_values(keys, "phone", sor, loaders.fallback_order)
        ],
    )


async def resolve_conflicts(record: CustomerRecord, info: Info) -> list[FieldConflict]:
    """The contact facts the customer's records disagree on."""
    loaders = _evidence(info)
    keys = await loaders.contact_keys.load(record.id)
    return [
        FieldConflict.of(conflict, record.id)
        for conflict in key_conflicts(keys, loaders.system_of_record, loaders.fallback_order)
    ]


async def resolve_possible_duplicates(
    record: CustomerRecord, info: Info, first: int
) -> list[DuplicateCandidate]:
    """The oldest ``first`` other customers sharing a key with this one, or named with it by
    an undecided rule (the store's leads come oldest customer first)."""
    evidence = _evidence(info)
    leads = await evidence.duplicate_leads.load(record.id)
    by_customer: dict[CustomerId, list[DuplicateLead]] = {}
    for lead in leads:
        if lead.other in by_customer or len(by_customer) < first:
            by_customer.setdefault(lead.other, []).append(lead)
    others = await info.context.loaders.customers.load_many(list(by_customer))
    candidates: list[DuplicateCandidate] = []
    for other in others:
        # Gone between the two reads (a supervisor's link emptied it): nothing to show.
        if other is None:
            continue
        reason = duplicate_reason(
            by_customer[other.id],
            same_name=same_name(record.display_name, other.display_name),
            record_nouns=evidence.record_nouns,
        )
        candidates.append(DuplicateCandidate(customer=Customer.from_record(other), reason=reason))
    return candidates
