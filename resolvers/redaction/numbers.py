"""Numbers in free text: phones, cards and other long numbers withheld, however split.

People split numbers to be read back, or to get past a filter: ``020,7946,0018``,
``4111_1111_1111_1111``, ``0 7 7 0 0   9 0 0 1 2 3``, ``zero seven seven double oh ...``.
So a number here is a run of digits joined by up to six separator characters (spaces,
commas, underscores, dots, dashes, slashes, brackets, stars, ...), and number words are
read as digits first. Such a run of six digits or more is withheld.

What stays is what is plainly not personal, standing alone (no digits chained on either
side): a date or a time (``2024-03-15``, ``15/03/2024``, ``10:30``), an amount of money
(``£1,234.56``, ``1,234.56 GBP``, ``12.50``) and a labelled reference (``ticket #123456``,
``INC-0012345``), unless it is a valid phone number or has a card's length and passes the
Luhn check. Well-formed phone numbers are found first by ``phonenumbers.PhoneNumberMatcher``,
which knows every country's formats.
"""

from __future__ import annotations

import re

import phonenumbers

#: Characters that may join the digits of one number, and how many of them in a row.
_SEPARATOR = r"[\s,_\-./\\()*|:;~+'\"=]"
_MAX_SEPARATORS = 6
#: A run of at least this many digits is withheld, unless plainly innocent.
MIN_DIGITS = 6
_CARD_LENGTHS = range(13, 20)

_RUN = re.compile(rf"\+?\d(?:{_SEPARATOR}{{0,{_MAX_SEPARATORS}}}\d)*")
_SEPARATORS_THEN_DIGIT = re.compile(rf"{_SEPARATOR}{{0,{_MAX_SEPARATORS}}}\d")
_DIGIT_THEN_SEPARATORS = re.compile(rf"\d{_SEPARATOR}{{0,{_MAX_SEPARATORS}}}$")

_CURRENCY = r"(?:[£$€¥]|\b(?:GBP|USD|EUR|CAD|AUD)\b)"
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?|\d+(?:\.\d{1,2})?"
_INNOCENT = re.compile(
    "|".join(
        [
            # dates and times
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b",
            r"\b\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})\b",
            r"\b\d{1,2}:\d{2}(?::\d{2})?\b",
            # money: with its currency on either side, or pounds and pence alone
            rf"{_CURRENCY}\s?(?:{_AMOUNT})",
            rf"\b(?:{_AMOUNT})\s?(?:{_CURRENCY}|(?i:pounds|dollars|euros|pence|cents)\b)",
            r"\b\d{1,3}(?:,\d{3})*\.\d{2}\b",
            # references: a label and one unbroken number, or letters, a dash and digits
            r"(?i:\b(?:ticket|case|order|invoice|inv|ref|reference|booking|incident|no\.?)"
            r"\s*(?:number|no\.?)?\s*[:#]?\s*)\d+\b",
            r"#\d+\b",
            r"\b[A-Z]{2,6}-\d+\b",
        ]
    )
)

_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3}
_NUMBER_WORD = rf"(?:{'|'.join([*_DIGIT_WORDS, *_REPEATS, r'[0-9]'])})"
_SPELLED = re.compile(rf"\b{_NUMBER_WORD}(?:[\s,\-]+{_NUMBER_WORD})+\b", re.IGNORECASE)


def redact_numbers(text: str, region: str, hidden: str) -> str:
    """``text`` with phones, cards and other runs of ``MIN_DIGITS`` digits withheld."""
    text = _SPELLED.sub(lambda found: _spelled(found.group(0), hidden), text)
    text = _redact_well_formed_phones(text, region, hidden)
    innocent = _innocent_spans(text, region)
    pieces: list[str] = []
    done = 0
    for found in _RUN.finditer(_masked(text, innocent)):
        digits = _digits(found.group(0))
        if len(digits) < MIN_DIGITS:
            continue
        pieces += [text[done : found.start()], hidden]
        done = found.end()
    pieces.append(text[done:])
    return "".join(pieces)


def _spelled(words: str, hidden: str) -> str:
    """A run of number words: withheld when it spells ``MIN_DIGITS`` digits or more."""
    digits: list[str] = []
    repeat = 1
    for word in re.split(r"[\s,\-]+", words.lower()):
        if word in _REPEATS:
            repeat = _REPEATS[word]
            continue
        digit = _DIGIT_WORDS.get(word, word)
        digits.append(digit * repeat)
        repeat = 1
    return hidden if len("".join(digits)) >= MIN_DIGITS else words


def _redact_well_formed_phones(text: str, region: str, hidden: str) -> str:
    matcher = phonenumbers.PhoneNumberMatcher(
        text, region or None, leniency=phonenumbers.Leniency.VALID
    )
    pieces: list[str] = []
    done = 0
    for match in matcher:
        pieces += [text[done : match.start], hidden]
        done = match.end
    pieces.append(text[done:])
    return "".join(pieces)


def _innocent_spans(text: str, region: str) -> list[tuple[int, int]]:
    """Where dates, times, amounts and references stand alone, and are no phone or card."""
    spans: list[tuple[int, int]] = []
    for found in _INNOCENT.finditer(text):
        start, end = found.span()
        chained = _DIGIT_THEN_SEPARATORS.search(text, max(0, start - _MAX_SEPARATORS - 1), start)
        if chained or _SEPARATORS_THEN_DIGIT.match(text, end):
            continue
        digits = _digits(found.group(0))
        if _is_card(digits) or _is_phone(digits, region):
            continue
        spans.append((start, end))
    return spans


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span blanked by letters: no run of digits crosses or enters it."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "x" * (end - start)
    return "".join(chars)


def _is_card(digits: str) -> bool:
    """A card's length and a valid Luhn check digit."""
    if len(digits) not in _CARD_LENGTHS:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_phone(digits: str, region: str) -> bool:
    if len(digits) < MIN_DIGITS:
        return False
    try:
        number = phonenumbers.parse(digits, region or None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def _digits(value: str) -> str:
    # ASCII digits only: str.isdigit() also accepts superscripts that int() refuses.
    return "".join(ch for ch in value if "0" <= ch <= "9")
