"""Where one tenant's lookup meets another tenant's customer (``kernel.tenancy.TenantBoundary``).

A lookup that finds nothing in its own tenant is answered as missing; this says whether the
key names a customer of another tenant, so that the attempt goes on that customer's audit
trail (the reader learns nothing: the answer is the same either way). Run only on a miss,
over the keys' own indexes (migration 016 puts the tenant last in them).
"""

from __future__ import annotations

from collections.abc import Sequence

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


class TenantBoundaryStore:
    """Other tenants' customers a key of this store's tenant names (``TenantBoundary``)."""

    def __init__(self, store: Store) -> None:
        self._pool = store.pool
        self._tenant = store.tenant

    async def owners_elsewhere(
        self, kind: CrossingKind, value: str, source: str | None = None
    ) -> Sequence[tuple[TenantId, CustomerId]]:
        """The (tenant, customer) pairs of other tenants ``value`` names."""
        async with self._pool.acquire() as conn:
            if kind == "id":
                rows = await conn.fetch(_BY_ID, value, self._tenant)
            elif kind == "record":
                rows = await conn.fetch(_BY_RECORD, source, value, self._tenant)
            else:
                rows = await conn.fetch(_BY_KEY, kind, value, self._tenant)
        return [(TenantId(row["tenant"]), CustomerId(row["customer_id"])) for row in rows]
