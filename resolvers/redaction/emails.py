"""Emails in free text: written plainly, with spaces around the ``@``, or spelled out.

``ada dot lovelace at example dot com``, ``ada.lovelace (at) example (dot) com`` and
``ada.lovelace @ example.com`` are all ``ada.lovelace@example.com`` to a reader, so each is
masked as that email would be (``a***@example.com``).
"""

from __future__ import annotations

import re

# A dot between labels: a plain one with no space around it (``example.com``; "at home. Then"
# is prose), or the word, bracketed or not, with spaces allowed around it.
_DOT = r"(?:\.(?=\w)|\s*(?:\(dot\)|\[dot\]|\{dot\}|<dot>)\s*|\s+dot\s+)"
# The at: the sign (spaces allowed), or the word, bracketed or not.
_AT = r"(?:\s*@\s*|\s*(?:\(at\)|\[at\]|\{at\}|<at>)\s*|\s+at\s+)"
_LABEL = r"[A-Za-z0-9_%+\-]+"
_DOMAIN_LABEL = r"[A-Za-z0-9\-]+"
_TLD = r"[A-Za-z]{2,24}\b"

# Bounded repetitions: unbounded, a long run of "x dot x dot ..." with no "at" would cost
# time quadratic in its length, and no real address has more labels than these.
_EMAIL = re.compile(
    rf"(?<![\w.@])(?P<local>{_LABEL}(?:{_DOT}{_LABEL}){{0,5}})"
    rf"{_AT}"
    rf"(?P<domain>(?:{_DOMAIN_LABEL}{_DOT}){{1,5}}{_TLD})",
    re.IGNORECASE,
)
_DOT_ALONE = re.compile(_DOT, re.IGNORECASE)

#: A local part shorter than this shows no first letter (as ``masking.mask_email``).
_MIN_LOCAL_PART_TO_HINT = 3
#: Words before " at " that make it prose, not an address (``look at example.com``).
_PROSE = frozenset({"look", "looked", "looking", "arrive", "arrived", "is", "was", "be"})


#: Anything around an ``@`` with no space in it: whatever a mail system would accept.
#: Starting only where a run of such characters starts keeps it linear in the text.
_PLAIN = re.compile(r"(?<![^\s@])[^\s@]+@[^\s@]+")


def redact_emails(text: str, hidden: str) -> str:
    """``text`` with every email, however written, as ``a***@domain``."""
    text = _PLAIN.sub(lambda found: _plain(found.group(0), hidden), text)
    return _EMAIL.sub(lambda found: _spelled(found, hidden), text)


def _plain(email: str, hidden: str) -> str:
    local, _, domain = email.rpartition("@")
    masked = _masked(local, domain, hidden)
    # A local part of stars (``***@example.com``) would come out as itself.
    return hidden if email.lower() in masked.lower() else masked


def _spelled(found: re.Match[str], hidden: str) -> str:
    local = _DOT_ALONE.sub(".", found.group("local"))
    if local.lower() in _PROSE:
        return found.group(0)
    return _masked(local, _DOT_ALONE.sub(".", found.group("domain")).lower(), hidden)


def _masked(local: str, domain: str, hidden: str) -> str:
    if not local or not domain:
        return hidden
    hint = local[0] if len(local) >= _MIN_LOCAL_PART_TO_HINT else ""
    return f"{hint}{hidden}@{domain}"
