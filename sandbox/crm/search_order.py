"""What the CRM search needs for incremental reads, as HubSpot does it.

HubSpot's recommended way to read "what changed since T" is a search with a
``lastmodifieddate`` ``GTE`` filter, sorted ascending, paged with ``after``; a search pages
through at most 10,000 results, after which a client restarts the search from the last
modification time it saw. This module holds the parts of that which are not plain property
comparisons: the system properties (``lastmodifieddate``, ``createdate``, ``hs_object_id``)
that live outside a contact's property bag, range operators on them, and ``sorts``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sandbox.records import CrmContact

#: HubSpot's search pages through at most this many results of one query.
MAX_SEARCH_RESULTS = 10_000

RANGE_OPERATORS = frozenset({"GT", "GTE", "LT", "LTE", "BETWEEN"})

#: Properties computed by HubSpot, as numbers a filter compares: times in milliseconds.
SYSTEM_PROPERTIES: dict[str, Callable[[CrmContact], int]] = {
    "lastmodifieddate": lambda contact: contact.updated * 1000,
    "createdate": lambda contact: contact.created * 1000,
    "hs_object_id": lambda contact: int(contact.id),
}


class SearchValueError(ValueError):
    """A filter value or a sort the search cannot use (a 400 for the client)."""


def system_number(property_name: str, value: Any) -> int:
    """A filter value for a system property: epoch milliseconds (or an ISO time) for dates."""
    if isinstance(value, bool) or value is None:
        raise SearchValueError(f"Invalid value for {property_name}: {value!r}")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if property_name == "hs_object_id":
        raise SearchValueError(f"Invalid value for {property_name}: {value!r}")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchValueError(f"Invalid value for {property_name}: {value!r}") from None
    if moment.tzinfo is None:
        raise SearchValueError(f"Invalid value for {property_name}: {value!r} has no time zone")
    return int(moment.timestamp() * 1000)


def in_range(operator: str, actual: float, low: float, high: float | None) -> bool:
    """Whether ``actual`` satisfies a range operator (``BETWEEN`` is inclusive)."""
    if operator == "GT":
        return actual > low
    if operator == "GTE":
        return actual >= low
    if operator == "LT":
        return actual < low
    if operator == "LTE":
        return actual <= low
    if high is None:
        raise SearchValueError("BETWEEN needs a highValue")
    return low <= actual <= high


def search_order(sorts: Sequence[Any]) -> Callable[[CrmContact], tuple[Any, ...]]:
    """The sort key ``sorts`` asks for, the contact id breaking ties (HubSpot's default).

    A sort is ``{"propertyName": ..., "direction": "ASCENDING" | "DESCENDING"}`` or a bare
    property name (ascending). Only the first sort is applied, as HubSpot does.
    """
    if not sorts:
        return lambda contact: (int(contact.id),)
    first = sorts[0]
    if isinstance(first, str):
        name, direction = first.lstrip("-"), "DESCENDING" if first.startswith("-") else "ASCENDING"
    elif isinstance(first, dict) and isinstance(first.get("propertyName"), str):
        name, direction = first["propertyName"], first.get("direction", "ASCENDING")
    else:
        raise SearchValueError(f"Invalid sort: {first!r}")
    if direction not in ("ASCENDING", "DESCENDING"):
        raise SearchValueError(f"Invalid sort direction: {direction!r}")
    sign = 1 if direction == "ASCENDING" else -1
    number = SYSTEM_PROPERTIES.get(name)
    if number is not None:
        return lambda contact: (sign * number(contact), sign * int(contact.id))
    if sign == 1:
        return lambda contact: ((contact.properties.get(name) or ""), int(contact.id))
    # Strings cannot be negated: sort descending by sorting ascending and reversing.
    raise SearchValueError(f"Descending sort is supported on {sorted(SYSTEM_PROPERTIES)} only")
