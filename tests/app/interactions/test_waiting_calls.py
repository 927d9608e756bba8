"""The queue of calls an agent could take (``Interactions.waiting``) over a real PostgreSQL:
unclaimed calls for everyone, transferred calls for their new holder only, oldest first, and
nothing claimed, ended or expired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.interactions.settings import InteractionSettings
from app.store.customers import Store
from kernel.interactions import InteractionRefused, InteractionState
from tests.app.handoff_kit import AGENT_1, AGENT_2, IVR, SUPERVISOR, Kit, actor, build_kit


async def handed_over(kit: Kit, *contact_ids: str) -> None:
    """Hand each call over, a second apart, so that their order is their arrival's."""
    for contact_id in contact_ids:
        await kit.service.submit_handoff(IVR, kit.handoff(contact_id))
        kit.clock.now += timedelta(seconds=1)


async def queue(kit: Kit, who: object = AGENT_1, first: int = 20) -> list[str]:
    views = await kit.service.waiting(who, first)  # type: ignore[arg-type]
    return [view.contact_id for view in views]


async def test_unclaimed_calls_wait_for_every_agent_oldest_first(kit: Kit) -> None:
    await handed_over(kit, "c-1", "c-2", "c-3")

    assert await queue(kit, AGENT_1) == ["c-1", "c-2", "c-3"]
    assert await queue(kit, AGENT_2) == ["c-1", "c-2", "c-3"]
    assert await queue(kit, SUPERVISOR) == ["c-1", "c-2", "c-3"]
    views = await kit.service.waiting(AGENT_1, 1)
    assert [(v.contact_id, v.state, v.method) for v in views] == [
        ("c-1", InteractionState.WAITING, "PIN")
    ]


async def test_a_claimed_call_leaves_the_queue(kit: Kit) -> None:
    await handed_over(kit, "c-1", "c-2")

    await kit.service.claim(AGENT_1, "c-1")

    assert await queue(kit, AGENT_1) == ["c-2"]
    assert await queue(kit, AGENT_2) == ["c-2"]


async def test_a_transferred_call_waits_for_its_new_holder_only(kit: Kit) -> None:
    await handed_over(kit, "c-1")
    await kit.service.claim(AGENT_1, "c-1")

    await kit.service.transfer(AGENT_1, "c-1", "agent-2")

    assert await queue(kit, AGENT_2) == ["c-1"]
    assert await queue(kit, AGENT_1) == []
    assert await queue(kit, actor("agent-3")) == []
    await kit.service.claim(AGENT_2, "c-1")
    assert await queue(kit, AGENT_2) == []


async def test_ended_and_expired_calls_are_not_waiting(store: Store) -> None:
    kit = await build_kit(store, InteractionSettings(expiry_seconds=600))
    await handed_over(kit, "c-1", "c-2")
    await kit.service.end(SUPERVISOR, "c-1")

    assert await queue(kit) == ["c-2"]
    kit.clock.now += timedelta(seconds=601)
    assert await queue(kit) == []


@pytest.mark.parametrize("first", [0, 101])
async def test_first_out_of_range_is_refused(kit: Kit, first: int) -> None:
    with pytest.raises(InteractionRefused) as caught:
        await kit.service.waiting(AGENT_1, first)

    assert (caught.value.code, caught.value.status) == ("BAD_USER_INPUT", 400)
