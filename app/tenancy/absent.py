"""A system a tenant has no account of, where a service needs an adapter all the same.

A tenant's ``Sources`` simply lack a system it has no section for (panels null, live
linking searches what it has). The interaction service, though, holds its IVR and CRM
adapters as fields; for a tenant without one of them it holds this stand-in, whose every
read refuses with ``SourceNotConnected`` naming the system, rather than another tenant's
account answering in its place.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from kernel.errors import SourceNotConnected
from kernel.models import Source
from kernel.tenancy import TenantId


class AbsentSource:
    """Every method of ``source``'s port, refused: ``tenant`` has no account of it."""

    def __init__(self, source: Source, tenant: TenantId) -> None:
        self._source = source
        self._tenant = tenant

    def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, NoReturn]]:
        if name.startswith("_"):
            raise AttributeError(name)

        async def refused(*_args: object, **_kwargs: object) -> NoReturn:
            raise SourceNotConnected(self._source, f"not connected for the tenant {self._tenant}")

        return refused
