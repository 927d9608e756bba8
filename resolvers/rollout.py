"""One request's view of the sources' rollout (``kernel.rollout``): read once per request, so
that every panel of one answer, and its meta, see the same modes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutGate, RolloutMode, ShadowOutcome, SourceRollout


class RequestRollout:
    """The modes as this request found them; every source ``ON`` where no gate is wired."""

    def __init__(self, gate: RolloutGate | None = None) -> None:
        self._gate = gate
        self._modes: Mapping[Source, SourceRollout] | None = None
        self._lock = asyncio.Lock()

    async def of(self, source: Source) -> SourceRollout:
        """``source``'s rollout for this request."""
        if self._gate is None:
            return SourceRollout(source, RolloutMode.ON)
        if self._modes is None:
            async with self._lock:
                if self._modes is None:
                    self._modes = await self._gate.current()
        return self._modes.get(source) or SourceRollout(source, RolloutMode.ON)

    async def served_to(self, principal: Principal) -> str:
        """Each source's mode, and whether its panel is served to ``principal``, as one text:
        what a whole answer kept for one caller must match to be served to another (a pilot
        cohort's panel is not served outside it, nor a source's old mode after a change)."""
        if self._gate is None:
            return ""
        modes = [await self.of(source) for source in sorted(Source, key=lambda s: s.value)]
        return ",".join(
            f"{rollout.source.value}:{rollout.mode.value}:{int(rollout.serves(principal))}"
            for rollout in modes
        )

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        """Hand a shadow comparison to the gate, to run after (or beside) the answer."""
        if self._gate is not None:
            self._gate.shadow(source, compare)
