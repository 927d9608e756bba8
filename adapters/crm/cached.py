"""The CRM's reads through the response cache, and how long a contact stays fresh.

The panels' reads are cached per record (``SCV_CACHE__CRM__...``); searches and the
bulk listings the sync and the read model page through pass straight through: the sync must
see the system as it is, and no record's invalidation could reach a search's answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import Field

from adapters.crm.port import CrmAdapter
from kernel.cache import CacheKey, Lifetime, LifetimeSection, ReadThrough
from kernel.models import (
    CrmContact,
    CrmContactId,
    Source,
)


class CrmLifetimes(LifetimeSection):
    """CRM resources, keyed by CRM contact id."""

    contact: Lifetime = Field(
        default=Lifetime(fresh_seconds=60, stale_seconds=600),
        description="a contact: name, contact details, address",
    )


class CachedCrmAdapter:
    """``CrmAdapter`` whose batch contact read is cached per contact."""

    def __init__(self, inner: CrmAdapter, cache: ReadThrough) -> None:
        self._inner = inner
        self._cache = cache

    async def get_contacts(self, ids: Sequence[CrmContactId]) -> dict[CrmContactId, CrmContact]:
        """The contacts with these ids: cached ones from the cache, the rest in one read."""

        async def fetch_many(wanted: list[str]) -> dict[str, CrmContact]:
            found = await self._inner.get_contacts([CrmContactId(i) for i in wanted])
            return {str(contact_id): contact for contact_id, contact in found.items()}

        keys = [CacheKey(Source.CRM, contact_id, "contact") for contact_id in dict.fromkeys(ids)]
        found = await self._cache.get_many(keys, CrmContact, fetch_many)
        return {CrmContactId(contact_id): contact for contact_id, contact in found.items()}

    async def search_contacts(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[CrmContact]:
        """Not cached: passed to the system."""
        return await self._inner.search_contacts(email=email, phone=phone)

    def iter_contacts(self) -> AsyncIterator[list[CrmContact]]:
        """Not cached: the sync pages through the system itself."""
        return self._inner.iter_contacts()

    def iter_contacts_modified_since(self, since: datetime) -> AsyncIterator[list[CrmContact]]:
        """Not cached: the incremental sync pages through the system itself."""
        return self._inner.iter_contacts_modified_since(since)

    async def update_contact(
        self, contact_id: CrmContactId, properties: Mapping[str, str | None]
    ) -> None:
        """Not cached: written to the system (the write service invalidates the contact)."""
        await self._inner.update_contact(contact_id, properties)

    async def create_note(self, contact_id: CrmContactId, body: str, at: datetime) -> str:
        """Not cached: written to the system."""
        return await self._inner.create_note(contact_id, body, at)


if TYPE_CHECKING:
    # mypy proves here that the cached adapter implements its port in full.
    def _conforms(inner: CrmAdapter, cache: ReadThrough) -> CrmAdapter:
        return CachedCrmAdapter(inner, cache)
