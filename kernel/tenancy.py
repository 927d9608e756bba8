"""Tenants: the clients of the contact centre, each a boundary for every record, key and
credential.

A tenant is named by a short lower-case word (``acme``, ``globex``): it appears in settings'
names (``SCV_TENANTS__GLOBEX__...``), in tokens' tenants claim and in the request's tenant
header, so it is kept to letters, digits and ``_``. Which tenants exist, which one is the
default, and how a request picks its own are the app's (``app.tenancy``); these are the words
every layer shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal, NewType, Protocol

from kernel.client_errors import Forbidden, GatewayError
from kernel.identity import CustomerId

TenantId = NewType("TenantId", str)

#: What a tenant's name may be: it becomes part of environment variables' names.
_TENANT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")

#: The role that runs the platform for every tenant: health, metrics and KPIs, no customer.
OPERATOR_ROLE = "operator"


def tenant_id(name: str) -> TenantId:
    """``name`` as a tenant id (trimmed, lower-cased); ``ValueError`` if it cannot be one."""
    word = name.strip().lower()
    if not _TENANT_NAME.fullmatch(word):
        raise ValueError(
            "a tenant is 1 to 40 lower-case letters, digits or '_', starting with a letter"
        )
    return TenantId(word)


def tenant_ids(names: Iterable[str]) -> frozenset[TenantId]:
    """The tenant ids among ``names``; a name that cannot be one is left out (a token may
    carry words of other systems in its claim: they grant nothing here)."""
    found: set[TenantId] = set()
    for name in names:
        try:
            found.add(tenant_id(name))
        except ValueError:
            continue
    return frozenset(found)


class TenantRequired(GatewayError):
    """The request names no tenant and its principal may act for several (or none is
    configured for its token): it must say which, in the tenant header."""

    code = "TENANT_REQUIRED"


class TenantForbidden(GatewayError):
    """The principal may not act for the tenant the request names, or for any tenant.

    A tenant that does not exist is refused the same way, so that its answer tells no one
    which clients the platform serves.
    """

    code = "TENANT_FORBIDDEN"


class CustomerDataRefused(Forbidden):
    """A platform operator asked for customer data: it sees health, metrics and the
    integration KPIs of every tenant, never a customer (nor a lookup of one)."""


#: How a lookup named what it did not find: a customer by the gateway's id, a normalised
#: email or E.164 phone, or a system's record id; a call by its contact id
#: (``interaction``), an export job or a write by its id.
CrossingKind = Literal["id", "email", "phone", "record", "interaction", "export", "write"]


class TenantBoundary(Protocol):
    """Which other tenants' customers, calls, exports or writes a lookup that found nothing
    would have found: the lookup is answered as missing all the same, and the attempt goes
    on their audit trail."""

    async def owners_elsewhere(
        self, kind: CrossingKind, value: str, source: str | None = None
    ) -> Sequence[tuple[TenantId, CustomerId | None]]:
        """The (tenant, customer) pairs of other tenants this key names (``source`` for a
        record id); the customer is None for an export, which is no one customer's."""
        ...
