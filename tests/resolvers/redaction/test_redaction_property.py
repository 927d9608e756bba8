"""Generated free text: a phone or a card, split any way, inside any prose, never survives."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from resolvers.redaction import redact

SEPARATORS = st.text(alphabet=" ,_-./*|:;~()", min_size=0, max_size=4)
PROSE = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=30).map(lambda words: f" {words} ")
UK_MOBILES = st.integers(min_value=0, max_value=999_999).map(lambda n: f"07700{n:06d}")
VISA_TEST_CARDS = st.sampled_from(
    ["4111111111111111", "4012888888881881", "5555555555554444", "378282246310005"]
)


@st.composite
def split(draw: st.DrawFn, digits: st.SearchStrategy[str]) -> tuple[str, str]:
    """A number and the same number with separators drawn between its digits."""
    number = draw(digits)
    pieces = [number[0]]
    for digit in number[1:]:
        pieces.append(draw(SEPARATORS) + digit)
    return number, "".join(pieces)


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@settings(max_examples=300, deadline=None)
@given(before=PROSE, phone=split(UK_MOBILES), after=PROSE)
def test_a_phone_split_any_way_is_withheld(before: str, phone: tuple[str, str], after: str) -> None:
    number, written = phone
    assert number[-6:] not in digits_of(redact(f"{before}{written}{after}", "GB"))


@settings(max_examples=300, deadline=None)
@given(before=PROSE, card=split(VISA_TEST_CARDS), after=PROSE)
def test_a_card_split_any_way_is_withheld(before: str, card: tuple[str, str], after: str) -> None:
    number, written = card
    assert number[-8:] not in digits_of(redact(f"{before}{written}{after}", "GB"))
