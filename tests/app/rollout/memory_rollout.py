"""A rollout store in memory (the port ``kernel.rollout.RolloutStore``) and a fake clock."""

from __future__ import annotations

from collections.abc import Mapping

from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout


class MemoryRolloutStore:
    def __init__(self) -> None:
        self.rows: dict[Source, SourceRollout] = {}
        self.reads = 0
        self.failing = False

    async def rollout_overrides(self) -> Mapping[Source, SourceRollout]:
        self.reads += 1
        if self.failing:
            raise OSError("store down")
        return dict(self.rows)

    async def save_rollout(self, rollout: SourceRollout) -> SourceRollout:
        self.rows[rollout.source] = rollout
        return rollout

    async def move_rollout(
        self, rollout: SourceRollout, expected: RolloutMode
    ) -> SourceRollout | None:
        kept = self.rows.get(rollout.source)
        if kept is not None and kept.mode is not expected:
            return None
        self.rows[rollout.source] = rollout
        return rollout


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
