"""The identity view as a whole: with the store down, only the fields that need it are lost."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry

from kernel.errors import StoreUnavailable
from kernel.identity import CustomerId
from kernel.identity_evidence import ContactKey, DuplicateLead
from tests.resolvers.identity_view.identity_view_kit import MemoryEvidence, run
from tests.resolvers.memory_store import MemoryStore


class StoreDown(MemoryEvidence):
    """Evidence whose store is unreachable, as ``app.store`` reports it."""

    async def contact_keys(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[ContactKey, ...]]:
        raise StoreUnavailable()

    async def duplicate_leads(
        self, ids: Sequence[CustomerId]
    ) -> dict[CustomerId, tuple[DuplicateLead, ...]]:
        raise StoreUnavailable()


async def test_with_the_store_down_only_the_fields_that_need_it_are_lost(
    schema: strawberry.Schema, store: MemoryStore
) -> None:
    query = """{ customer(id: "alan") { id profile { name } billing { delinquent }
      contact { emails { value } } conflicts { field } possibleDuplicates { reason } } }"""
    data, errors = await run(schema, store, StoreDown(), query)
    alan = data["customer"]
    assert alan["profile"] == {"name": "Alan Turing"}
    assert alan["billing"] is not None
    assert (alan["contact"], alan["conflicts"], alan["possibleDuplicates"]) == (None, None, None)
    assert {tuple(e["path"]) for e in errors} == {
        ("customer", "contact"),
        ("customer", "conflicts"),
        ("customer", "possibleDuplicates"),
    }
    assert {e["extensions"]["code"] for e in errors} == {"STORE_UNAVAILABLE"}
