"""The name a customer shows, from the records linked to it, and new customers' ids.

Every source's records are read into one shape (``kernel.linking.LinkRecord``) by the
source's own linking (``adapters/<source>/linking.py``). The name a customer shows is the
best one any of its records has (``display_name``): a name before an email before an id,
and among those the source of the lowest linking rank (the registry's).
"""

from __future__ import annotations

from secrets import token_urlsafe

from adapters.registry import linked
from kernel.identity import CustomerId
from kernel.linking import LinkRecord
from kernel.models import Source

__all__ = ["NAME_RANK", "display_name", "new_customer_id", "placeholder_name"]

# A customer's display name is the best name any of its records has: a name of the source
# of the lowest linking rank, else of the next, ..., else an email, in that order of source
# again, else an id. Ranks are positions, 0 first, so that they are dense.
NAME_RANK = {spec.source: position for position, spec in enumerate(linked())}
_EMAIL_RANK_OFFSET = len(NAME_RANK)
_ID_RANK_OFFSET = 2 * len(NAME_RANK)


def display_name(source: Source, record: LinkRecord) -> tuple[str, int]:
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
