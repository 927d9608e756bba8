"""A source's phased rollout: its mode, its pilot cohort, and the ports that keep and read them.

A registered source is ``OFF`` (never read for a panel), in ``SHADOW`` (read in the
background and compared with the system of record, never served), in ``PILOT`` (served only
to its cohort: principals by subject, or by a ``queue:<name>`` scope) or ``ON`` (served to
everyone). The configured mode is the source's setting (``SCV_<NAME>__ROLLOUT__MODE``); a
supervisor's change is kept in PostgreSQL and wins over it on every instance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from kernel.access import Principal
from kernel.models import Source

#: A principal's queues are its OAuth scopes with this prefix (``queue:billing-disputes``).
QUEUE_SCOPE_PREFIX = "queue:"


class RolloutMode(StrEnum):
    """How far a source is rolled out, in the order it goes forward."""

    OFF = "OFF"
    SHADOW = "SHADOW"
    PILOT = "PILOT"
    ON = "ON"

    def one_back(self) -> RolloutMode:
        """The phase before this one (``OFF`` stays ``OFF``)."""
        order = list(RolloutMode)
        return order[max(0, order.index(self) - 1)]


@dataclass(frozen=True, slots=True)
class SourceRollout:
    """One source's rollout as it stands: its mode, its cohort, and who set it when."""

    source: Source
    mode: RolloutMode
    pilot_subjects: frozenset[str] = frozenset()
    pilot_queues: frozenset[str] = frozenset()
    #: Who changed it last (``None``: the configured mode, never changed).
    changed_by: str | None = None
    changed_at: datetime | None = None
    reason: str | None = None

    def serves(self, principal: Principal) -> bool:
        """Whether a panel of this source is served to ``principal``."""
        if self.mode is RolloutMode.ON:
            return True
        if self.mode is not RolloutMode.PILOT:
            return False
        if principal.subject in self.pilot_subjects:
            return True
        queues = {
            scope[len(QUEUE_SCOPE_PREFIX) :]
            for scope in principal.scopes
            if scope.startswith(QUEUE_SCOPE_PREFIX)
        }
        return not queues.isdisjoint(self.pilot_queues)


class RolloutStore(Protocol):
    """Where supervisors' rollout changes are kept (every instance reads the same)."""

    async def rollout_overrides(self) -> Mapping[Source, SourceRollout]:
        """Every source whose rollout was changed, as it was changed last."""
        ...

    async def save_rollout(self, rollout: SourceRollout) -> SourceRollout:
        """Keep ``rollout`` (its ``changed_at`` the store's time); the row as kept."""
        ...

    async def move_rollout(
        self, rollout: SourceRollout, expected: RolloutMode
    ) -> SourceRollout | None:
        """Keep ``rollout`` only if its source is still in ``expected`` (a source with no
        change kept is taken to be in it: its configured mode), in one atomic step; the row
        as kept, or None when the source had already moved (another instance's step)."""
        ...


class ShadowOutcome(StrEnum):
    """What a shadow read found, compared with the system of record."""

    AGREE = "agree"
    DISAGREE = "disagree"


class RolloutGate(Protocol):
    """What the resolvers ask of the rollout: the modes now, and where shadow reads go."""

    async def current(self) -> Mapping[Source, SourceRollout]:
        """Every registered source's rollout as it stands (cached briefly): a new mapping
        when the modes change, never one handed out before changed in place (what
        ``RequestRollout.served_to`` keeps its text by)."""
        ...

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        """Run ``compare`` in the background (the answer never waits for it) and count what
        it found: agreement, or disagreement and why."""
        ...

    async def change(
        self,
        source: Source,
        mode: RolloutMode,
        *,
        changed_by: Principal,
        reason: str,
        pilot_subjects: frozenset[str] | None = None,
        pilot_queues: frozenset[str] | None = None,
        request_id: str | None = None,
    ) -> SourceRollout:
        """Move ``source`` to ``mode`` (kept, audited); the rollout as it now stands."""
        ...
