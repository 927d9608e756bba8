"""Normalised lookup keys: E.164 phones and case-folded emails.

Phones are parsed with ``phonenumbers`` (Google's libphonenumber data) rather than by
hand: national formats, extensions and punctuation differ per system and per country.
"""

from __future__ import annotations

import phonenumbers


def normalize_email(raw: str | None) -> str | None:
    """The lookup key of an email address: trimmed and lower-cased; None if not an email."""
    if raw is None:
        return None
    email = raw.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or "." not in domain or " " in email:
        return None
    return email


def normalize_phone(raw: str | None, default_region: str) -> str | None:
    """The E.164 form of ``raw`` (``+14155550101``), or None if it is not a possible number.

    ``default_region`` (ISO 3166 alpha-2) is used for numbers written without a country
    code, such as ``(415) 555-0101``.
    """
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
