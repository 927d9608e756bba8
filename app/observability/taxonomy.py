"""Unmapped vendor words in /metrics: what the taxonomies met that no setting maps; and the
records the adapters left out because a field could not be read (``adapters.unreadable``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.taxonomy import Taxonomy
from adapters.unreadable import UnreadableRecords


class TaxonomyCollector(Collector):
    """Unmapped vendor words per source and field, read from the adapters' ``Taxonomy``s."""

    def __init__(self) -> None:
        #: Filled by the lifespan once the adapters exist.
        self.taxonomies: list[Taxonomy[Any]] = []
        self.unreadable: list[UnreadableRecords] = []

    def collect(self) -> Iterator[Metric]:
        """Two gauges: distinct unmapped words, and how often they were met."""
        words = GaugeMetricFamily(
            "scv_taxonomy_unmapped_words",
            "Distinct vendor words with no canonical mapping, per source and field",
            labels=["source", "field"],
        )
        seen = GaugeMetricFamily(
            "scv_taxonomy_unmapped_occurrences",
            "Times a vendor word with no canonical mapping was met, per source and field",
            labels=["source", "field"],
        )
        for taxonomy in self.taxonomies:
            labels = [taxonomy.source.value, taxonomy.field]
            words.add_metric(labels, len(taxonomy.unmapped))
            seen.add_metric(labels, sum(taxonomy.unmapped.values()))
        left_out = GaugeMetricFamily(
            "scv_source_unreadable_records",
            "Records left out because a field could not be read, per source and field",
            labels=["source", "field"],
        )
        for records in self.unreadable:
            for field, count in records.by_field.items():
                left_out.add_metric([records.source.value, field], count)
        yield words
        yield seen
        yield left_out
