"""How often things happen among generated people: the distributions the generator draws.

A draw costs one ``random()`` call, however many values a distribution has.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Generic, TypeVar

T = TypeVar("T")


class _Weights(Generic[T]):
    """Values with integer weights, drawn with a single ``random()`` call each."""

    __slots__ = ("_cumulative", "_total", "_values")

    def __init__(self, *options: tuple[T, int]) -> None:
        self._values = tuple(value for value, _ in options)
        self._cumulative = tuple(itertools.accumulate(weight for _, weight in options))
        self._total = self._cumulative[-1]

    def draw(self, rng: random.Random) -> T:
        """One value, drawn by weight."""
        return self._values[bisect.bisect(self._cumulative, rng.random() * self._total)]


#: Which systems hold a person who is not in all three (the other ~30%), with weights.
PARTIAL_PRESENCE = _Weights(
    (("crm", "billing"), 30),
    (("crm", "support"), 25),
    (("billing", "support"), 10),
    (("crm",), 15),
    (("billing",), 10),
    (("support",), 10),
)
SUBSCRIPTION_STATUSES = _Weights(
    ("active", 70), ("trialing", 5), ("past_due", 5), ("unpaid", 2), ("canceled", 11),
    ("incomplete", 2), ("incomplete_expired", 1), ("paused", 4),
)  # fmt: skip
SUBSCRIPTION_COUNTS = _Weights((0, 20), (1, 65), (2, 15))
PAYMENT_METHOD_COUNTS = _Weights((0, 15), (1, 70), (2, 15))
ONE_OFF_INVOICE_STATUSES = _Weights(("paid", 80), ("void", 10), ("uncollectible", 10))
CARD_BRANDS = _Weights(("visa", 55), ("mastercard", 35), ("amex", 10))
TICKET_COUNTS = _Weights((0, 30), (1, 25), (2, 20), (3, 12), (4, 8), (6, 5))
TICKET_STATUSES = _Weights(
    ("new", 5), ("open", 15), ("pending", 10), ("hold", 3), ("solved", 40), ("closed", 27),
)  # fmt: skip
TICKET_PRIORITIES = _Weights(("low", 20), ("normal", 50), ("high", 20), ("urgent", 5), (None, 5))
TICKET_TYPES = _Weights(
    ("question", 40), ("incident", 25), ("problem", 15), ("task", 5), (None, 15)
)
IVR_REF_TYPES = _Weights(("PHONE", 60), ("ACCOUNT", 20), ("EMAIL", 10), ("CUSTOMER_ID", 10))
AUTH_METHODS = _Weights(("PIN", 40), ("OTP", 30), ("KBA", 20), ("VOICE_BIOMETRIC", 10))
AUTH_RESULTS = _Weights(("AUTHENTICATED", 75), ("NOT_AUTHENTICATED", 15), ("INCONCLUSIVE", 10))
AUTH_SCORES = {
    "AUTHENTICATED": (0.85, 0.99),
    "NOT_AUTHENTICATED": (0.05, 0.40),
    "INCONCLUSIVE": (0.40, 0.70),
}
