"""A source's port as a typed key: which source, and the ``Protocol`` its adapter is seen as.

The gateway holds its sources' adapters in one mapping by ``Source`` (the registry builds
them, ``resolvers.context.Sources`` carries them), so a bundle needs no field per source. A
mapping by ``Source`` knows no adapter's type, though; each source's port module declares its
key once (``PORT = SourcePort[BillingAdapter](Source.BILLING)``), and ``Sources.port(PORT)``
is typed as that ``Protocol`` with no cast at the call site.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from kernel.models import Source

PortT = TypeVar("PortT")


@dataclass(frozen=True, slots=True)
class SourcePort(Generic[PortT]):
    """The key of ``source``'s adapter, typed as the port ``PortT`` it implements."""

    source: Source
