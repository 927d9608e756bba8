"""The ``writes`` table: one row per (principal, key), and claims that never overlap."""

from __future__ import annotations

import asyncio
import uuid

from app.store.customers import Store
from app.store.writes import NewWrite, WriteStore


def _new(principal: str = "agent-1", key: str | None = None, digest: str = "h1") -> NewWrite:
    return NewWrite(
        principal=principal,
        principal_role="agent",
        idempotency_key=key or str(uuid.uuid4()),
        input_hash=digest,
        kind="addCustomerNote",
        source="CRM",
        customer_id="cust-1",
        target_record_id="101",
        input={"values": {"body": "hello"}, "owner": "101"},
        fields=("body",),
        expected_version=None,
        vendor_key="scv-x",
        interaction_id=None,
    )


async def test_a_key_is_accepted_once_per_principal(store: Store) -> None:
    writes = WriteStore(store)
    key = str(uuid.uuid4())

    first, created = await writes.accept(_new(key=key), lease_seconds=60)
    again, created_again = await writes.accept(_new(key=key, digest="h2"), lease_seconds=60)
    other, created_other = await writes.accept(_new("agent-2", key=key), lease_seconds=60)

    assert created
    assert not created_again
    assert created_other
    assert again.id == first.id
    assert again.input_hash == "h1"
    assert other.id != first.id


async def test_concurrent_claims_never_take_the_same_write(store: Store) -> None:
    writes = WriteStore(store)
    accepted = [(await writes.accept(_new(), lease_seconds=0))[0] for _ in range(30)]
    await asyncio.sleep(0.01)

    batches = await asyncio.gather(*(writes.claim_due(10, lease_seconds=60) for _ in range(5)))

    claimed = [row.id for batch in batches for row in batch]
    mine = {row.id for row in accepted}
    assert len(claimed) == len(set(claimed))
    assert mine <= set(claimed)


async def test_only_the_current_claim_records_the_outcome(store: Store) -> None:
    writes = WriteStore(store)
    row, _ = await writes.accept(_new(), lease_seconds=0)
    await asyncio.sleep(0.01)
    (first_claim,) = [r for r in await writes.claim_due(100, lease_seconds=0) if r.id == row.id]
    await asyncio.sleep(0.01)
    (second_claim,) = [r for r in await writes.claim_due(100, lease_seconds=60) if r.id == row.id]

    stale = await writes.mark_applied(first_claim, "note-1")
    current = await writes.mark_applied(second_claim, "note-2")

    assert (stale, current) == (False, True)
    stored = await writes.get(row.id)
    assert stored is not None
    assert (stored.status, stored.record_id, stored.input) == ("APPLIED", "note-2", {})
