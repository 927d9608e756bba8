"""Records an adapter left out, in /metrics by source and field."""

from __future__ import annotations

import logging

import pytest

from adapters.unreadable import UnreadableRecords
from app.observability.taxonomy import TaxonomyCollector
from kernel.models import Source


def test_left_out_records_are_gauged_by_source_and_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = UnreadableRecords(Source.ORDERS, "order")
    collector = TaxonomyCollector()
    collector.unreadable.append(records)
    with caplog.at_level(logging.WARNING, logger="adapters.unreadable"):
        for field in ("total", "total", "placed_at"):
            records.count(field)

    families = {family.name: family for family in collector.collect()}
    samples = {
        (s.labels["source"], s.labels["field"]): s.value
        for s in families["scv_source_unreadable_records"].samples
    }
    assert samples == {("ORDERS", "total"): 2, ("ORDERS", "placed_at"): 1}
    # Logged once per field, with the field's name only.
    assert [getattr(r, "field", None) for r in caplog.records] == ["total", "placed_at"]
