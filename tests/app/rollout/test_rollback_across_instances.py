"""The rollback across instances, over one real PostgreSQL: each instance judges its own
traffic, and the step back is atomic in the store, so two instances breaching at once move a
source back one phase, not two, with one audit entry and one rollback counted."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from adapters.settings import RollbackSettings
from app.rollout.metrics import RolloutMetrics
from app.rollout.rollback import RollbackWatch
from app.rollout.service import SourceRollouts
from app.rollout.window import SourceWindows
from app.security.audit import PostgresAuditSink
from app.security.audit_metrics import AuditMetrics
from app.security.settings import AuditSettings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from app.store.rollout import PostgresRolloutStore
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout
from tests.app.rollout.memory_rollout import Clock

LIMITS = RollbackSettings(window_seconds=60, minimum_calls=10)


class BothDecided(PostgresRolloutStore):
    """The real store, whose steps back wait until both instances have decided theirs: the
    race two instances breaching at once run, every time rather than by chance."""

    def __init__(self, store: Store, decided: asyncio.Barrier) -> None:
        super().__init__(store)
        self._decided = decided

    async def move_rollout(
        self, rollout: SourceRollout, expected: RolloutMode
    ) -> SourceRollout | None:
        await self._decided.wait()
        return await super().move_rollout(rollout, expected)


@dataclass
class Instance:
    """One gateway instance's rollout, windows, watch and rollback counter."""

    rollouts: SourceRollouts
    windows: SourceWindows
    watch: RollbackWatch
    registry: CollectorRegistry

    def fail_orders(self) -> None:
        for _ in range(10):
            self.windows.observe_call(Source.ORDERS, 0.1, "UPSTREAM_UNAVAILABLE")

    def rollbacks(self) -> float:
        labels = {"source": "ORDERS", "from_mode": "ON", "to_mode": "PILOT"}
        found = self.registry.get_sample_value(
            "scv_rollout_rollbacks_total", {**labels, "criterion": "error_rate"}
        )
        return found or 0.0


def instance(store: Store, rollout_store: PostgresRolloutStore | None = None) -> Instance:
    clock = Clock()
    windows = SourceWindows(clock)
    registry = CollectorRegistry()
    metrics = RolloutMetrics.create(registry)
    audit = PostgresAuditSink(
        AuditTrailStore(store), AuditSettings(), AuditMetrics.create(CollectorRegistry())
    )
    rollouts = SourceRollouts(
        {source: SourceRollout(source, RolloutMode.ON) for source in Source},
        rollout_store or PostgresRolloutStore(store),
        refresh_seconds=0,
        audit=audit,
        metrics=metrics,
        clock=clock,
        windows=windows,
    )
    watch = RollbackWatch(rollouts, windows, dict.fromkeys(Source, LIMITS), metrics)
    return Instance(rollouts, windows, watch, registry)


async def orders_mode(store: Store) -> str:
    async with store.pool.acquire() as conn:
        mode: str = await conn.fetchval("select mode from source_rollout where source = 'ORDERS'")
    return mode


async def rollback_audits(store: Store) -> list[str]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch(
            "select detail from audit_trail where kind = 'ROLLOUT_CHANGE' order by id"
        )
    return [row["detail"] for row in rows]


async def test_two_instances_breaching_at_once_move_it_back_one_phase(store: Store) -> None:
    decided = asyncio.Barrier(2)
    first = instance(store, BothDecided(store, decided))
    second = instance(store, BothDecided(store, decided))
    # Every instance checks from its start: both have seen the source ON.
    assert await first.watch.check() == {}
    assert await second.watch.check() == {}
    first.fail_orders()
    second.fail_orders()

    # Both read ON and decide to move it back to PILOT before either step is taken.
    moved = await asyncio.wait_for(
        asyncio.gather(first.watch.check(), second.watch.check()), timeout=30
    )

    assert sorted(len(m) for m in moved) == [0, 1]
    assert await orders_mode(store) == "PILOT"
    assert await rollback_audits(store) == ["ORDERS: ON -> PILOT"]
    assert first.rollbacks() + second.rollbacks() == 1.0
    # Both serve the pilot now, and neither judges it on the traffic of ON.
    for each in (first, second):
        assert await each.rollouts.mode_of(Source.ORDERS) is RolloutMode.PILOT
        assert await each.watch.check() == {}
    assert await orders_mode(store) == "PILOT"


async def test_an_instance_that_finds_it_moved_judges_the_new_phase_afresh(store: Store) -> None:
    first, second = instance(store), instance(store)
    # Both watches have run (every instance checks from its start), the source ON.
    assert await first.watch.check() == {}
    assert await second.watch.check() == {}
    first.fail_orders()
    second.fail_orders()

    assert await first.watch.check() == {Source.ORDERS: RolloutMode.PILOT}
    # The second's window still holds the failures of ON: it starts afresh, not to SHADOW.
    assert await second.watch.check() == {}

    assert await orders_mode(store) == "PILOT"
    assert await rollback_audits(store) == ["ORDERS: ON -> PILOT"]
    # The pilot's own failures, later, move it back the next phase.
    second.fail_orders()
    assert await second.watch.check() == {Source.ORDERS: RolloutMode.SHADOW}
    assert await orders_mode(store) == "SHADOW"
