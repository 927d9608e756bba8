"""The interactions' tables: a jti is used once, and history is append-only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.store.customers import Store
from app.store.interactions import InteractionRow, NewInteraction
from kernel.identity import CustomerId
from tests.app.handoff_kit import IVR, build_kit


@pytest.mark.parametrize(
    "statement",
    ["update interaction_events set actor = 'someone else'", "delete from interaction_events"],
)
async def test_interaction_history_refuses_update_and_delete(store: Store, statement: str) -> None:
    kit = await build_kit(store)
    await kit.service.submit_handoff(IVR, kit.handoff("c-1"))

    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await conn.execute(statement)


def _new(interaction_id: str, contact_id: str, jti: str, customer: str) -> NewInteraction:
    now = datetime.now(UTC)
    return NewInteraction(
        id=interaction_id,
        contact_id=contact_id,
        customer_id=CustomerId(customer),
        level=2,
        method="PIN",
        result="AUTHENTICATED",
        score=0.97,
        verified_at=now,
        verified_by="IVR",
        created_at=now,
        expires_at=now + timedelta(hours=1),
        issuer="ivr",
        jti=jti,
    )


async def test_concurrent_uses_of_one_jti_open_exactly_one_interaction(store: Store) -> None:
    results = await asyncio.gather(
        *(store.open_interaction(_new(f"i-{n}", f"c-{n}", "jti-1", "cust"), {}) for n in range(5))
    )

    opened = [r for r in results if isinstance(r, InteractionRow)]
    assert len(opened) == 1
    assert sorted(r for r in results if isinstance(r, str)) == ["replayed"] * 4


async def test_a_taken_contact_leaves_the_jti_unused(store: Store) -> None:
    await store.open_interaction(_new("i-1", "c-1", "jti-1", "cust"), {})

    taken = await store.open_interaction(_new("i-2", "c-1", "jti-2", "cust"), {})

    assert taken == "contact_taken"
    assert not await store.handoff_seen("ivr", "jti-2")
