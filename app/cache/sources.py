"""Every cached source's adapter wrapped to read through the response cache.

Which reads are cached, under which resource names, is each source's own
(``adapters/<source>/cached.py``), named by its registry entry.

The reads the panels make are cached per record. Searches and the bulk listings the identity
sync pages through pass straight through: a search's answer is a set of records keyed by an
email or a phone, which no record's invalidation could reach, and the sync must see the
systems as they are. The IVR is not cached: its contact attributes belong to one live call.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.registry import cached
from kernel.cache import ReadThrough
from kernel.models import Source


def cached_adapters(adapters: Mapping[Source, object], cache: ReadThrough) -> dict[Source, object]:
    """``adapters`` with each cached source's reads going through ``cache`` (the others, the
    IVR among them, as they are)."""
    wrapped = dict(adapters)
    for spec in cached():
        if spec.cache is not None and spec.source in wrapped:
            wrapped[spec.source] = spec.cache.wrap(wrapped[spec.source], cache)
    return wrapped
