"""One request's rollout read (``RequestRollout``) while the gate's read of the store is slow:
the panels waiting for it resume together, and a failed read is tried again by a waiter.

The e2e twin (tests/e2e/test_customers_page.py) counts the CRM batch reads of a page of 100
over HTTP; these pin the two cases a page cannot show: a read that fails, a waiter cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import pytest
from strawberry.dataloader import DataLoader

from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutMode, ShadowOutcome, SourceRollout
from resolvers.rollout import RequestRollout

PILOT = {Source.CRM: SourceRollout(Source.CRM, RolloutMode.PILOT)}


class SlowGate:
    """A gate whose reads wait for ``release``; the first ``failures`` of them then fail."""

    def __init__(self, failures: int = 0) -> None:
        self.release = asyncio.Event()
        self.reads = 0
        self._failures = failures

    async def current(self) -> Mapping[Source, SourceRollout]:
        self.reads += 1
        await self.release.wait()
        if self.reads <= self._failures:
            raise RuntimeError("the store went away")
        return PILOT

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        raise AssertionError("no shadow read here")

    async def change(
        self, source: Source, mode: RolloutMode, *, changed_by: Principal, **_: object
    ) -> SourceRollout:
        raise AssertionError("no change here")


async def started(tasks: list[asyncio.Task[object]]) -> None:
    """Let every task run up to its first wait."""
    for _ in range(3):
        await asyncio.sleep(0)
    assert not any(task.done() for task in tasks)


async def test_panels_waiting_for_the_read_still_load_in_one_batch() -> None:
    gate = SlowGate()
    rollout = RequestRollout(gate)
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(keys)
        return keys

    loader: DataLoader[int, int] = DataLoader(load)

    async def panel(key: int) -> object:
        assert (await rollout.of(Source.CRM)).mode is RolloutMode.PILOT
        return await loader.load(key)

    tasks = [asyncio.ensure_future(panel(key)) for key in range(50)]
    await started(tasks)
    gate.release.set()

    assert await asyncio.gather(*tasks) == list(range(50))
    assert batches == [list(range(50))]
    assert gate.reads == 1


async def test_a_failed_read_fails_its_reader_and_a_waiter_reads_again() -> None:
    gate = SlowGate(failures=1)
    rollout = RequestRollout(gate)
    reader = asyncio.ensure_future(rollout.of(Source.CRM))
    waiters = [asyncio.ensure_future(rollout.of(Source.CRM)) for _ in range(3)]
    await started([reader, *waiters])
    gate.release.set()

    with pytest.raises(RuntimeError):
        await reader
    assert [found.mode for found in await asyncio.gather(*waiters)] == [RolloutMode.PILOT] * 3
    assert gate.reads == 2


async def test_a_cancelled_waiter_leaves_the_others_their_read() -> None:
    gate = SlowGate()
    rollout = RequestRollout(gate)
    reader = asyncio.ensure_future(rollout.of(Source.CRM))
    cancelled, waiter = (asyncio.ensure_future(rollout.of(Source.CRM)) for _ in range(2))
    await started([reader, cancelled, waiter])
    cancelled.cancel()
    await asyncio.sleep(0)
    gate.release.set()

    assert (await reader).mode is (await waiter).mode is RolloutMode.PILOT
    assert cancelled.cancelled()
    assert gate.reads == 1
