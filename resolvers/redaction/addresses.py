"""Street addresses and postcodes in free text: withheld.

A street line is a house number, a few capitalised words and a street word (``12 Acacia
Avenue``, ``221b Baker St``, ``Flat 3, 10 Downing Street``); a postcode is a UK postcode
(``SW1A 2AA``, in any case, spaced or not) or a US state and ZIP (``IL 62704``). Together
they are a home; a city or a country alone says too little to be withheld.
"""

from __future__ import annotations

import re

_STREET_WORDS = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|close|way|place|pl|court|ct|crescent|"
    "terrace|boulevard|blvd|gardens|grove|square|sq|hill|row|mews|parade|walk|park"
)
# The street's own words must be capitalised ("3 times this way" is prose); the house
# number's letter and the street word may be in any case.
_STREET = re.compile(
    r"(?:\b(?i:flat|apartment|apt|unit)\.?\s*\d+(?i:[a-z])?,?\s+)?"
    rf"\b\d{{1,5}}(?i:[a-z])?,?\s+(?:[A-Z][\w'\-]*\s+){{1,4}}(?i:{_STREET_WORDS})\b\.?"
)
# The outward code, then the inward code (a digit and two letters); the two may be split.
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?[\s,_\-]{0,3}\d[A-Z]{2}\b", re.IGNORECASE)
_US_STATE_ZIP = re.compile(r"\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b")


def redact_addresses(text: str, hidden: str) -> str:
    """``text`` with street lines and postcodes replaced by ``hidden``."""
    for pattern in (_STREET, _UK_POSTCODE, _US_STATE_ZIP):
        text = pattern.sub(hidden, text)
    return text
