"""One record, whatever its source, as the sync links it, and the name it gives a customer.

A CRM contact, a billing customer and a support user are read into one shape (``Record``):
an id, what names and reaches the person, and the id of another system's record it names.
The name a customer shows is the best one any of its records has (``display_name``).
"""

from __future__ import annotations

from dataclasses import dataclass
from secrets import token_urlsafe

from kernel.identity import CustomerId
from kernel.models import BillingCustomer, CrmContact, Source, SupportUser

__all__ = [
    "NAME_RANK",
    "Record",
    "display_name",
    "from_billing",
    "from_crm",
    "from_support",
    "new_customer_id",
    "placeholder_name",
]

# A customer's display name is the best name any of its records has: a CRM name, else a
# billing name, else a support name, else an email, in that order of source again.
NAME_RANK = {Source.CRM: 0, Source.BILLING: 1, Source.SUPPORT: 2}
_EMAIL_RANK_OFFSET = 3
_ID_RANK_OFFSET = 6


@dataclass(frozen=True, slots=True)
class Record:
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    # CRM: the billing id the contact names; support: the CRM contact id it names.
    xref: str | None


def from_crm(contact: CrmContact) -> Record:
    return Record(
        contact.id, contact.name, contact.email, contact.phone, contact.billing_customer_id
    )


def from_billing(customer: BillingCustomer) -> Record:
    return Record(customer.id, customer.name, customer.email, customer.phone, None)


def from_support(user: SupportUser) -> Record:
    return Record(user.id, user.name, user.email, user.phone, user.external_id)


def display_name(source: Source, record: Record) -> tuple[str, int]:
    rank = NAME_RANK[source]
    if record.name and record.name.strip():
        return record.name.strip(), rank
    if record.email and record.email.strip():
        return record.email.strip(), _EMAIL_RANK_OFFSET + rank
    return placeholder_name(source, record.external_id)


def placeholder_name(source: Source, external_id: str) -> tuple[str, int]:
    """A customer's name, and its rank, when all that is known is a record's source and id.

    The worst rank of that source: any name or email of a record replaces it.
    """
    return f"{source.value} {external_id}", _ID_RANK_OFFSET + NAME_RANK[source]


def new_customer_id() -> CustomerId:
    """A new, opaque customer id."""
    return CustomerId("cust_" + token_urlsafe(12))
