"""Where one tenant's lookup meets another tenant's records (``kernel.tenancy.TenantBoundary``).

A lookup that finds nothing in its own tenant is answered as missing; this says whether the
key names a customer, a call, an export or a write of another tenant, so that the attempt
goes on that tenant's audit trail (the reader learns nothing: the answer is the same either
way). Run only on a miss (or a refused step), over the keys' own indexes (migration 016 puts
the tenant last in the customers' and first in the calls': those are asked for by the
served tenants, named).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from app.store.customers import Store
from kernel.identity import CustomerId
from kernel.tenancy import CrossingKind, TenantId

__all__ = ["TenantBoundaryStore"]

_BY_ID = "select tenant, id as customer_id from customers where id = $1 and tenant <> $2"
_BY_KEY = """
select distinct tenant, customer_id from lookup_keys
 where kind = $1 and value = $2 and tenant <> $3
 order by tenant, customer_id
"""
_BY_RECORD = """
select tenant, customer_id from identity_links
 where source = $1 and external_id = $2 and tenant <> $3
 order by tenant
"""
# A contact id is unique within its tenant only: a call of this tenant with the same id is
# this tenant's own (a refused step of its own call crosses nothing).
_BY_CONTACT = """
select tenant, customer_id from interactions
 where tenant = any($2::text[]) and contact_id = $1
   and not exists (select 1 from interactions where tenant = $3 and contact_id = $1)
 order by tenant
"""
_BY_EXPORT = "select tenant, null as customer_id from export_jobs where id = $1 and tenant <> $2"
_BY_WRITE = "select tenant, customer_id from writes where id = $1 and tenant <> $2"


class TenantBoundaryStore:
    """Other tenants' records a key of this store's tenant names (``TenantBoundary``);
    ``tenants``: the served tenants (the calls are looked for in those)."""

    def __init__(self, store: Store, tenants: Iterable[TenantId] = ()) -> None:
        self._pool = store.pool
        self._tenant = store.tenant
        self._others = sorted({tenant for tenant in tenants if tenant != store.tenant})

    async def owners_elsewhere(
        self, kind: CrossingKind, value: str, source: str | None = None
    ) -> Sequence[tuple[TenantId, CustomerId | None]]:
        """The (tenant, customer) pairs of other tenants ``value`` names."""
        if kind == "write":
            try:
                write_id: object = uuid.UUID(value)
            except ValueError:
                return []
        async with self._pool.acquire() as conn:
            if kind == "id":
                rows = await conn.fetch(_BY_ID, value, self._tenant)
            elif kind == "record":
                rows = await conn.fetch(_BY_RECORD, source, value, self._tenant)
            elif kind == "interaction":
                if not self._others:
                    return []
                rows = await conn.fetch(_BY_CONTACT, value, self._others, self._tenant)
            elif kind == "export":
                rows = await conn.fetch(_BY_EXPORT, value, self._tenant)
            elif kind == "write":
                rows = await conn.fetch(_BY_WRITE, write_id, self._tenant)
            else:
                rows = await conn.fetch(_BY_KEY, kind, value, self._tenant)
        return [
            (
                TenantId(row["tenant"]),
                CustomerId(row["customer_id"]) if row["customer_id"] is not None else None,
            )
            for row in rows
        ]
