"""``SourceRollouts``: configured modes under supervisors' changes, the refresh, a store
outage, and the shadow comparisons' tallies (a store faked at its port: the PostgreSQL one
is exercised end to end in tests/e2e/test_rollout_e2e.py)."""

from __future__ import annotations

import asyncio

from app.rollout.service import SourceRollouts
from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutMode, ShadowOutcome, SourceRollout
from tests.app.rollout.memory_rollout import Clock, MemoryRolloutStore

SUPERVISOR = Principal("supervisor-1", "supervisor")


def rollouts(store: MemoryRolloutStore, clock: Clock, **options: int) -> SourceRollouts:
    configured = {source: SourceRollout(source, RolloutMode.ON) for source in Source}
    configured[Source.ORDERS] = SourceRollout(Source.ORDERS, RolloutMode.SHADOW)
    return SourceRollouts(configured, store, refresh_seconds=5, clock=clock, **options)


async def test_configured_modes_until_a_change_is_read_within_the_refresh() -> None:
    store, clock = MemoryRolloutStore(), Clock()
    gate = rollouts(store, clock)
    assert (await gate.current())[Source.ORDERS].mode is RolloutMode.SHADOW

    # Another instance's change: seen once the refresh is due, not before.
    store.rows[Source.ORDERS] = SourceRollout(Source.ORDERS, RolloutMode.PILOT)
    clock.now = 4.9
    assert (await gate.current())[Source.ORDERS].mode is RolloutMode.SHADOW
    clock.now = 5.0
    assert (await gate.current())[Source.ORDERS].mode is RolloutMode.PILOT


async def test_a_change_here_is_seen_at_once_and_keeps_the_cohort_unless_given() -> None:
    store, clock = MemoryRolloutStore(), Clock()
    gate = rollouts(store, clock)
    await gate.change(
        Source.ORDERS,
        RolloutMode.PILOT,
        changed_by=SUPERVISOR,
        reason="pilot",
        pilot_queues=frozenset({"orders-desk"}),
    )
    await gate.change(Source.ORDERS, RolloutMode.ON, changed_by=SUPERVISOR, reason="go")

    now = (await gate.current())[Source.ORDERS]
    assert now.mode is RolloutMode.ON
    assert now.pilot_queues == frozenset({"orders-desk"})
    assert now.changed_by == "supervisor-1"


async def test_a_store_outage_keeps_the_modes_last_read() -> None:
    store, clock = MemoryRolloutStore(), Clock()
    store.rows[Source.CRM] = SourceRollout(Source.CRM, RolloutMode.OFF)
    gate = rollouts(store, clock)
    assert (await gate.current())[Source.CRM].mode is RolloutMode.OFF

    store.failing = True
    clock.now = 10
    assert (await gate.current())[Source.CRM].mode is RolloutMode.OFF
    assert store.reads == 2


async def test_shadow_comparisons_are_tallied_by_outcome_and_reason() -> None:
    gate = rollouts(MemoryRolloutStore(), Clock())

    async def agree() -> tuple[ShadowOutcome, str]:
        return ShadowOutcome.AGREE, "match"

    async def missing() -> tuple[ShadowOutcome, str]:
        return ShadowOutcome.DISAGREE, "no_record"

    async def failing() -> tuple[ShadowOutcome, str]:
        raise TimeoutError

    for compare in (agree, agree, missing, failing):
        gate.shadow(Source.ORDERS, compare)
    await gate.drain()

    assert gate.shadow_counts(Source.ORDERS) == (
        2,
        2,
        {"no_record": 1, "TimeoutError": 1},
    )
    assert gate.shadow_counts(Source.CRM) == (0, 0, {})


async def test_shadow_reads_past_the_limit_are_skipped_not_queued() -> None:
    gate = rollouts(MemoryRolloutStore(), Clock(), max_shadow_reads=1)
    release = asyncio.Event()

    async def slow() -> tuple[ShadowOutcome, str]:
        await release.wait()
        return ShadowOutcome.AGREE, "match"

    gate.shadow(Source.ORDERS, slow)
    gate.shadow(Source.ORDERS, slow)
    release.set()
    await gate.drain()

    assert gate.shadow_counts(Source.ORDERS)[0] == 1
    assert gate.shadow_tally[(Source.ORDERS, None, "busy")] == 1


class SlowStore(MemoryRolloutStore):
    """Reads wait until ``release`` is set: a round trip that takes its time."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def rollout_overrides(self) -> dict[Source, SourceRollout]:
        self.reads += 1
        await self.release.wait()
        return dict(self.rows)


async def test_requests_finding_the_modes_due_at_once_share_one_store_read() -> None:
    store, clock = SlowStore(), Clock()
    store.rows[Source.CRM] = SourceRollout(Source.CRM, RolloutMode.OFF)
    gate = rollouts(store, clock)
    waiting = [asyncio.ensure_future(gate.current()) for _ in range(20)]
    await asyncio.sleep(0)
    store.release.set()
    answers = await asyncio.gather(*waiting)

    assert store.reads == 1
    assert all(modes[Source.CRM].mode is RolloutMode.OFF for modes in answers)
    # Due again after the refresh: one more read, not one per request.
    clock.now = 5.0
    await asyncio.gather(*(gate.current() for _ in range(5)))
    assert store.reads == 2


async def test_a_cancelled_requester_leaves_the_shared_read_to_the_others() -> None:
    store, clock = SlowStore(), Clock()
    store.rows[Source.CRM] = SourceRollout(Source.CRM, RolloutMode.OFF)
    gate = rollouts(store, clock)
    first = asyncio.ensure_future(gate.current())
    second = asyncio.ensure_future(gate.current())
    await asyncio.sleep(0)
    first.cancel()
    store.release.set()

    assert (await second)[Source.CRM].mode is RolloutMode.OFF
    assert first.cancelled()
    assert store.reads == 1


async def test_a_fresh_read_is_its_own_even_while_another_is_under_way() -> None:
    store, clock = SlowStore(), Clock()
    gate = rollouts(store, clock)
    due = asyncio.ensure_future(gate.current())
    await asyncio.sleep(0)
    fresh = asyncio.ensure_future(gate.current(fresh=True))
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(due, fresh)

    assert store.reads == 2
