"""Do presidio-analyzer's pattern recognizers or scrubadub earn their weight for free text?

Runs ``resolvers.redaction.redact`` and, when they are installed, presidio-analyzer's
pattern recognizers (credit card, email, phone, IBAN; no spaCy model: pattern recognizers
need none) and scrubadub's default detectors over the redaction corpus of the tests
(``tests/resolvers/redaction/pii_corpus.py``): how many personal texts each redacts
wholly, how many innocent texts each leaves as they were, and the time per text.

The two libraries are no dependency of the gateway: ``make bench-pii-detectors`` installs
them in a virtual environment of their own (.venv/tools/pii) and runs
``python -m bench.pii_detectors`` there, from the project's folder.
"""

from __future__ import annotations

import importlib.util
import re
import time
from collections.abc import Callable

from resolvers.redaction import redact
from tests.resolvers.redaction.pii_corpus import INNOCENT, PERSONAL

Redactor = Callable[[str], str]


def _squeezed(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _spans_redacted(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = f"{text[:start]}***{text[end:]}"
    return text


def presidio() -> Redactor | None:
    """presidio-analyzer's pattern recognizers, without an NLP engine."""
    if importlib.util.find_spec("presidio_analyzer") is None:
        return None
    from presidio_analyzer.predefined_recognizers import (  # type: ignore[import-not-found]
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        PhoneRecognizer,
    )

    recognizers = [
        CreditCardRecognizer(),
        EmailRecognizer(),
        IbanRecognizer(),
        PhoneRecognizer(supported_regions=("GB", "US")),
    ]

    def run(text: str) -> str:
        spans: list[tuple[int, int]] = []
        for recognizer in recognizers:
            entities = recognizer.supported_entities
            for found in recognizer.analyze(text, entities, nlp_artifacts=None):
                spans.append((found.start, found.end))
        return _spans_redacted(text, _merged(spans))

    return run


def scrubadub_clean() -> Redactor | None:
    """scrubadub's default detectors (email, phone, credit card, URL, ...)."""
    if importlib.util.find_spec("scrubadub") is None:
        return None
    import scrubadub  # type: ignore[import-not-found]

    scrubber = scrubadub.Scrubber(locale="en_GB")

    def run(text: str) -> str:
        return str(scrubber.clean(text))

    return run


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def measure(name: str, redactor: Redactor) -> str:
    started = time.perf_counter()
    caught = sum(
        all(_squeezed(part) not in _squeezed(redactor(text)) for part in personal)
        for text, personal in PERSONAL
    )
    kept = sum(redactor(text) == text for text in INNOCENT)
    per_text = (time.perf_counter() - started) / (len(PERSONAL) + len(INNOCENT)) * 1e6
    return f"| {name} | {caught}/{len(PERSONAL)} | {kept}/{len(INNOCENT)} | {per_text:,.0f} µs |"


def main() -> None:
    print("| detector | personal texts wholly redacted | innocent texts kept | time per text |")
    print("|---|---|---|---|")
    print(measure("resolvers.redaction", lambda text: redact(text, "GB")))
    for name, build in (("presidio-analyzer patterns", presidio), ("scrubadub", scrubadub_clean)):
        redactor = build()
        print(measure(name, redactor) if redactor else f"| {name} | not installed | | |")


if __name__ == "__main__":
    main()
