"""Mapping a vendor's status words to the canonical enums, by configuration.

A word with no mapping becomes ``UNKNOWN``: it is logged once per (source, field, word)
and counted in ``unmapped`` so that a data-quality report can show it. It is never
silently dropped and never guessed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, Generic, TypeVar

from kernel.models import Source

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=StrEnum)


class Taxonomy(Generic[E]):
    """One field's map from vendor words to a canonical enum with an ``UNKNOWN`` member."""

    def __init__(
        self, source: Source, field: str, mapping: Mapping[str, str], enum: type[E]
    ) -> None:
        self.source = source
        self.field = field
        self._enum = enum
        self._unknown = enum["UNKNOWN"]
        # Validate the configuration up front: a typo in settings fails at start-up.
        self._map: dict[str, E] = {}
        for word, canonical in mapping.items():
            try:
                self._map[word.casefold()] = enum[canonical]
            except KeyError:
                raise ValueError(
                    f"{source.value} {field}: {canonical!r} is not one of "
                    f"{', '.join(m.name for m in enum)}"
                ) from None
        self.unmapped: Counter[str] = Counter()

    def map(self, word: str) -> E:
        """The canonical word for ``word``, or ``UNKNOWN`` (logged once, counted always)."""
        found = self._map.get(word.casefold())
        if found is not None:
            return found
        if word not in self.unmapped:
            logger.warning(
                "unmapped taxonomy word",
                extra={"source": self.source.value, "field": self.field, "word": word},
            )
        self.unmapped[word] += 1
        return self._unknown


def taxonomies_of(adapters: Sequence[object]) -> list[Taxonomy[Any]]:
    """The ``Taxonomy`` attributes of ``adapters`` (wrappers without any are skipped)."""
    return [
        value
        for adapter in adapters
        for value in getattr(adapter, "__dict__", {}).values()
        if isinstance(value, Taxonomy)
    ]
