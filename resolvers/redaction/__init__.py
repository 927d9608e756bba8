"""Free text with the personal data in it redacted: the customer's own words, made safe.

Free text (a ticket subject, and agents' notes once they write them) is personal by
default: who may see a customer's personal data sees it as written; who may see it masked
sees it through ``redact``; who may see none of it sees none of it (``masking.free_text``).

``redact`` finds what people type into a ticket, however they type it:

- emails, written plainly, with spaces, or spelled out (``ada dot lovelace at example dot
  com``, ``ada(at)example(dot)com``): masked as ``a***@example.com`` (``emails.py``);
- street addresses (``12 Acacia Avenue``) and postcodes (``SW1A 2AA``, ``IL 62704``):
  withheld (``addresses.py``);
- numbers, however they are split (commas, underscores, runs of spaces, dots, slashes)
  or spelled out in words (``zero seven seven double zero ...``): phone numbers (Google's
  ``phonenumbers`` finds the well-formed ones), card numbers (Luhn), and any other run of
  six or more digits, withheld (``numbers.py``); what is plainly a date, a time, an amount
  of money or a labelled reference (``ticket #123456``, ``INC-0012345``) stays, unless it
  is a valid phone number or passes the Luhn check at a card's length.

Why patterns of our own and not presidio-analyzer or scrubadub: measured on the tests'
corpus (``make bench-pii-detectors``; 32 personal texts, 16 innocent ones), this package
redacts 32/32 wholly and keeps 16/16; presidio-analyzer's pattern recognizers (card, email,
IBAN, phone) 6/32 and 16/16; scrubadub's defaults 5/32 and 15/16. Both find only the
well-formed cases (a phone split by commas or underscores, a card split by other
separators, a spelled-out email, an address all pass them), so these patterns would be
needed anyway, and neither finds anything here that they miss. Their weight: 662 MB
installed together (spaCy, scikit-learn, nltk, numpy), and scrubadub fetches the public
suffix list over the network when it starts. ``phonenumbers``, already a dependency, is
used where it fits: it finds well-formed phone numbers in every country's format.
"""

from __future__ import annotations

from resolvers.redaction.addresses import redact_addresses
from resolvers.redaction.emails import redact_emails
from resolvers.redaction.numbers import redact_numbers

__all__ = ["HIDDEN", "redact"]

#: What a withheld run of text shows instead.
HIDDEN = "***"


def redact(text: str, region: str = "") -> str:
    """``text`` with its emails masked and its phones, cards, addresses and long numbers
    withheld; ``region`` (ISO 3166, e.g. ``GB``) reads national phone numbers."""
    text = redact_emails(text, HIDDEN)
    text = redact_addresses(text, HIDDEN)
    return redact_numbers(text, region, HIDDEN)
