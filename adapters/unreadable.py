"""Records a source held that the gateway could not read, counted by field, never shown.

A legacy system's row with a date or an amount in no format its settings describe costs
that row only: the adapter leaves it out and counts it here, and the first of each field is
logged with the source and the field's name (never the value: a legacy column can hold
anything, a customer's details included). ``/metrics`` reports the counts
(``app.observability.taxonomy``), as it reports unmapped status words.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

from kernel.models import Source

logger = logging.getLogger(__name__)


class UnreadableRecords:
    """One source's records left out because a field could not be read, by field."""

    def __init__(self, source: Source, record: str) -> None:
        self.source = source
        #: What one record is (``order``), for the log line.
        self.record = record
        self.by_field: Counter[str] = Counter()

    def count(self, field: str) -> None:
        """One more record left out for ``field`` (logged the first time)."""
        if field not in self.by_field:
            logger.warning(
                "a record could not be read and was left out",
                extra={"source": self.source.value, "record": self.record, "field": field},
            )
        self.by_field[field] += 1


def unreadable_of(adapters: Sequence[object]) -> list[UnreadableRecords]:
    """The ``UnreadableRecords`` attributes of ``adapters`` (those without any are skipped)."""
    return [
        value
        for adapter in adapters
        for value in getattr(adapter, "__dict__", {}).values()
        if isinstance(value, UnreadableRecords)
    ]
