"""Redaction on the corpus: every obfuscated personal datum goes, every innocent text stays."""

from __future__ import annotations

import re

import pytest

from resolvers.redaction import redact
from tests.resolvers.redaction.pii_corpus import INNOCENT, PERSONAL


def _squeezed(text: str) -> str:
    """Letters and digits only, lower case: a number survives however it was re-split."""
    return re.sub(r"[^0-9a-z]", "", text.lower())


@pytest.mark.parametrize(("text", "personal"), PERSONAL, ids=[text for text, _ in PERSONAL])
def test_personal_data_in_free_text_is_redacted(text: str, personal: tuple[str, ...]) -> None:
    redacted = redact(text, "GB")
    for part in personal:
        assert _squeezed(part) not in _squeezed(redacted), redacted
    assert "***" in redacted


@pytest.mark.parametrize("text", INNOCENT)
def test_innocent_text_survives_unchanged(text: str) -> None:
    assert redact(text, "GB") == text


def test_an_email_keeps_its_domain_and_first_letter() -> None:
    assert redact("write to ada dot lovelace at example dot com") == "write to a***@example.com"
