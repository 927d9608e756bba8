"""One request's view of the sources' rollout (``kernel.rollout``): read once per request, so
that every panel of one answer, and its meta, see the same modes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import ClassVar

from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutGate, RolloutMode, ShadowOutcome, SourceRollout

#: The sources in the order ``served_to`` writes them.
_SOURCES = tuple(sorted(Source, key=lambda s: s.value))


class RequestRollout:
    """The modes as this request found them; every source ``ON`` where no gate is wired."""

    #: The last modes mapping with no source in ``PILOT``, and its ``served_to`` text, which
    #: is then everyone's: the text was rebuilt on every request (sorting the sources, an
    #: await and two enum lookups each, 72 Python calls a request, ``bench.calls
    #: --case lookup_by_phone``). One entry, found by the mapping itself (held here, so its
    #: identity is never reused), which a gate replaces rather than changes
    #: (``RolloutGate.current``).
    _everyones: ClassVar[tuple[Mapping[Source, SourceRollout], str] | None] = None

    def __init__(self, gate: RolloutGate | None = None) -> None:
        self._gate = gate
        self._modes: Mapping[Source, SourceRollout] | None = None
        #: Set when the read under way ends: its waiters are the request's other panels.
        self._read_done: asyncio.Event | None = None

    async def of(self, source: Source) -> SourceRollout:
        """``source``'s rollout for this request."""
        if self._gate is None:
            return SourceRollout(source, RolloutMode.ON)
        modes = self._modes
        if modes is None:
            modes = await self._read(self._gate)
        return modes.get(source) or SourceRollout(source, RolloutMode.ON)

    async def _read(self, gate: RolloutGate) -> Mapping[Source, SourceRollout]:
        """The modes, read once for the request however many panels ask at once.

        The panels that ask while the gate reads the store all wait for one event, so all
        resume in the same turn of the loop and their loaders still batch together (a
        page's CRM contacts in one batch read). A lock would hand itself on one waiter per
        turn, and split that batch into a call per turn. If the read fails, its waiters
        wake and the next of them reads again.
        """
        while self._modes is None:
            if self._read_done is not None:
                await self._read_done.wait()
                continue
            done = self._read_done = asyncio.Event()
            try:
                self._modes = await gate.current()
            finally:
                self._read_done = None
                done.set()
        return self._modes

    async def served_to(self, principal: Principal) -> str:
        """Each source's mode, and whether its panel is served to ``principal``, as one text:
        what a whole answer kept for one caller must match to be served to another (a pilot
        cohort's panel is not served outside it, nor a source's old mode after a change)."""
        if self._gate is None:
            return ""
        modes = self._modes
        if modes is None:
            modes = await self._read(self._gate)
        everyones = RequestRollout._everyones
        if everyones is not None and everyones[0] is modes:
            return everyones[1]
        rollouts = [
            modes.get(source) or SourceRollout(source, RolloutMode.ON) for source in _SOURCES
        ]
        text = ",".join(
            f"{rollout.source.value}:{rollout.mode.value}:{int(rollout.serves(principal))}"
            for rollout in rollouts
        )
        if all(rollout.mode is not RolloutMode.PILOT for rollout in rollouts):
            # No cohort: ``SourceRollout.serves`` answers alike for every principal.
            RequestRollout._everyones = (modes, text)
        return text

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        """Hand a shadow comparison to the gate, to run after (or beside) the answer."""
        if self._gate is not None:
            self._gate.shadow(source, compare)
