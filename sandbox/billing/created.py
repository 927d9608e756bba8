"""Stripe's ``created`` range filter on lists: ``created[gte]=<unix seconds>`` and friends.

Stripe has no "updated since" listing of customers; new ones are read with ``created[gte]``
and changes to existing ones arrive by webhook. ``created`` may also be an exact time
(``created=<unix seconds>``).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from sandbox.openapi import INTEGER, Param
from sandbox.records import BillingCustomer
from sandbox.responses import VendorError

_BOUNDS: dict[str, Callable[[int, int], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}

CREATED_PARAMS = tuple(
    Param(f"created[{bound}]", f"Created {bound} this time (unix seconds)", INTEGER)
    for bound in _BOUNDS
)


def created_filter(
    params: Mapping[str, str], invalid_param: Callable[[str], Callable[[str], VendorError]]
) -> Callable[[BillingCustomer], bool] | None:
    """The customers the ``created`` parameters keep, or None when there are none."""
    tests: list[tuple[Callable[[int, int], bool], int]] = []
    exact = params.get("created")
    if exact is not None:
        tests.append((operator.eq, _seconds(exact, "created", invalid_param)))
    for bound, compare in _BOUNDS.items():
        name = f"created[{bound}]"
        raw = params.get(name)
        if raw is not None:
            tests.append((compare, _seconds(raw, name, invalid_param)))
    if not tests:
        return None
    return lambda customer: all(compare(customer.created, value) for compare, value in tests)


def _seconds(
    raw: str, name: str, invalid_param: Callable[[str], Callable[[str], VendorError]]
) -> int:
    if not raw.isdigit():
        raise invalid_param(name)(f"Invalid integer: {raw}")
    return int(raw)
