"""Generated people: who each one is, and how each system spells their phone and email.

``_PersonWriter`` is the base of the generator: it holds the dataset and the one random
stream every system's records are drawn from, in the generator's fixed order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.catalogue import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    UK_CITIES,
    US_CITIES,
)
from sandbox.records import DAY, REFERENCE_TIME, Dataset

YEAR = 365 * DAY
MONTH = 30 * DAY


@dataclass(slots=True)
class _Person:
    """One generated human being, before they are written into each system."""

    index: int
    first: str
    last: str
    email: str
    uk: bool
    #: The national significant number: "7700900123" (UK) or "4155550101" (US).
    national: str
    line1: str
    city: str
    state: str | None
    postal_code: str
    created: int

    @property
    def e164(self) -> str:
        """The number in E.164, as the IVR sees callers."""
        return f"+44{self.national}" if self.uk else f"+1{self.national}"


class _PersonWriter:
    """The generator's base: the dataset, its one random stream, and the people drawn from it."""

    def __init__(self, dataset: Dataset, rng: random.Random) -> None:
        self.dataset = dataset
        self.rng = rng

    def _person(self, index: int, uk_numbers: Iterator[int], us_numbers: Iterator[int]) -> _Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("'", "")
        email = f"{local}{index + 1}@{rng.choice(EMAIL_DOMAINS)}"
        uk = rng.random() < 0.6
        street = f"{rng.randrange(1, 300)} {rng.choice(STREETS)}"
        created = REFERENCE_TIME - rng.randrange(30 * DAY, 5 * YEAR)
        if uk:
            number = next(uk_numbers, None)
            digits = number if number is not None else rng.randrange(1_000_000)
            city, prefix = rng.choice(UK_CITIES)
            postal_code = f"{prefix} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            postal_code += rng.choice("ABDEFGHJLNPQRSTUWXYZ")
            return _Person(
                index, first, last, email, True, f"7700{digits:06d}", street, city, None,
                postal_code, created,
            )  # fmt: skip
        number = next(us_numbers, None)
        slot = number if number is not None else rng.randrange(len(US_CITIES) * 10_000)
        city, state, zip_code, area = US_CITIES[slot // 10_000]
        return _Person(
            index, first, last, email, False, f"{area}555{slot % 10_000:04d}", street, city, state,
            zip_code, created,
        )  # fmt: skip

    # --- per-system formatting ------------------------------------------------------

    def _phone(self, person: _Person, preferred: int) -> str:
        """The person's phone as one system writes it; ``preferred`` is that system's habit."""
        n = person.national
        formats: tuple[str, ...]
        if person.uk:
            formats = (f"+44 {n[:4]} {n[4:]}", f"+44{n}", f"+44 {n}")
        else:
            formats = (
                f"({n[:3]}) {n[3:6]}-{n[6:]}",
                f"+1{n}",
                f"{n[:3]}.{n[3:6]}.{n[6:]}",
                f"{n[:3]}-{n[3:6]}-{n[6:]}",
                f"+1 {n[:3]}-{n[3:6]}-{n[6:]}",
            )
        choice = preferred if self.rng.random() < 0.6 else self.rng.randrange(len(formats))
        return formats[min(choice, len(formats) - 1)]

    def _email_variant(self, person: _Person, different: float) -> str:
        roll = self.rng.random()
        if roll < different:
            return f"{person.first[0]}{person.last}{person.index + 1}@{EMAIL_DOMAINS[0]}".lower()
        if roll < different + 0.12:
            return person.email.title()
        if roll < different + 0.17:
            return person.email.upper()
        return person.email
