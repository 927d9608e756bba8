"""An in-memory ``IdentityStore`` for resolver tests: the store is not what they test."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from kernel.identity import CustomerId, CustomerRecord, IdentityLink
from kernel.models import Source
from kernel.normalize import normalize_email, normalize_phone


class MemoryStore:
    def __init__(self) -> None:
        self.customers: dict[CustomerId, CustomerRecord] = {}
        self.keys: dict[tuple[str, str], list[CustomerId]] = {}
        self.calls: Counter[str] = Counter()

    def add(
        self,
        customer_id: str,
        name: str,
        links: Sequence[tuple[Source, str]],
        *,
        emails: Sequence[str] = (),
        phones: Sequence[str] = (),
    ) -> CustomerId:
        cid = CustomerId(customer_id)
        self.customers[cid] = CustomerRecord(
            id=cid,
            display_name=name,
            links=tuple(IdentityLink(source, external, "anchor") for source, external in links),
        )
        for email in emails:
            self.keys.setdefault(("email", normalize_email(email) or ""), []).append(cid)
        for phone in phones:
            self.keys.setdefault(("phone", normalize_phone(phone, "US") or ""), []).append(cid)
        return cid

    async def get_customers(self, ids: Sequence[CustomerId]) -> dict[CustomerId, CustomerRecord]:
        self.calls["get_customers"] += 1
        return {i: self.customers[i] for i in ids if i in self.customers}

    async def find_by_phone(self, e164: str) -> list[CustomerId]:
        return list(self.keys.get(("phone", e164), []))

    async def find_by_email(self, email: str) -> list[CustomerId]:
        return list(self.keys.get(("email", email), []))

    async def first_by_phone(self, e164: str) -> CustomerRecord | None:
        found = await self.find_by_phone(e164)
        return self.customers.get(found[0]) if found else None

    async def first_by_email(self, email: str) -> CustomerRecord | None:
        found = await self.find_by_email(email)
        return self.customers.get(found[0]) if found else None

    async def find_by_source_id(self, source: Source, external_id: str) -> CustomerId | None:
        for record in self.customers.values():
            if any(lk.source is source and lk.external_id == external_id for lk in record.links):
                return record.id
        return None


def named_store() -> MemoryStore:
    """The named customers of the fakes, linked as the sync links them."""
    store = MemoryStore()
    b, c, s = Source.BILLING, Source.CRM, Source.SUPPORT
    store.add(
        "ada",
        "Ada Lovelace",
        [(c, "1001"), (b, "cus_ada"), (s, "9001")],
        emails=["ada.lovelace@example.com"],
        phones=["+44 20 7946 0018"],
    )
    store.add(
        "grace",
        "Grace Hopper",
        [(c, "1002"), (b, "cus_grace"), (s, "9002")],
        phones=["(415) 555-0101"],
    )
    store.add("edsger", "Edsger Dijkstra", [(c, "1006")], emails=["edsger.dijkstra@example.com"])
    store.add("barbara", "Barbara Liskov", [(c, "1007"), (b, "cus_barbara"), (s, "9007")])
    store.add("ghost", "Nobody Anywhere", [(c, "404404")])
    return store
