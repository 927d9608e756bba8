"""Rollback criteria as code: a source whose KPIs breach its thresholds moves back one phase.

``RollbackWatch`` checks every source every ``SCV_ROLLOUT__CHECK_SECONDS``: ``ON`` and
``PILOT`` are judged on their calls (error rate, contract errors, p99 latency), ``SHADOW`` on
its comparisons (disagreement rate) and its calls; ``OFF`` has nothing to judge. A breach
moves the source back one phase through ``SourceRollouts.move_back`` (kept in PostgreSQL,
audited as ``ROLLOUT_CHANGE`` by the principal ``rollback``), counts
``scv_rollout_rollbacks_total`` (the alert ``ScvSourceRolledBack``) and starts the source's
window afresh, so that the next phase is judged on its own traffic.

Every instance judges its own traffic, so several may breach at once. The step is atomic in
the store (moved only if still in the mode judged), so two instances breaching together move
the source back one phase, not two; and an instance that finds the source moved since its
last check (another instance's step, a supervisor's change), or sees it for the first time,
starts its window afresh instead of judging a phase on another one's traffic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from adapters.settings import RollbackSettings
from app.rollout.metrics import RolloutMetrics
from app.rollout.service import SourceRollouts
from app.rollout.window import SourceWindows, WindowFigures
from kernel.access import Principal
from kernel.models import Source
from kernel.rollout import RolloutMode

logger = logging.getLogger(__name__)

#: Who moves a source back, in the audit trail and the metrics.
ROLLBACK = Principal(subject="rollback", role="rollback")


@dataclass(frozen=True, slots=True)
class Breach:
    """One criterion over its threshold: which, and the figure against the limit."""

    criterion: str
    value: float
    limit: float

    def __str__(self) -> str:
        return f"{self.criterion} {self.value:.3g} > {self.limit:.3g}"


def breaches(mode: RolloutMode, figures: WindowFigures, limits: RollbackSettings) -> list[Breach]:
    """The criteria ``figures`` breach for a source in ``mode`` (none: it stays)."""
    if mode is RolloutMode.OFF or not limits.enabled:
        return []
    found: list[Breach] = []
    if figures.calls >= limits.minimum_calls:
        if figures.error_rate > limits.max_error_rate:
            found.append(Breach("error_rate", figures.error_rate, limits.max_error_rate))
        p99 = figures.latency_p99_seconds
        if p99 is not None and p99 > limits.max_latency_p99_seconds:
            found.append(Breach("latency_p99", p99, limits.max_latency_p99_seconds))
    if figures.contract_errors > limits.max_contract_errors:
        found.append(Breach("contract_errors", figures.contract_errors, limits.max_contract_errors))
    if mode is RolloutMode.SHADOW and figures.comparisons >= limits.minimum_comparisons:
        rate = figures.disagreement_rate
        if rate > limits.max_disagreement_rate:
            found.append(Breach("disagreement_rate", rate, limits.max_disagreement_rate))
    return found


class RollbackWatch:
    """Checks every source's criteria, and moves back those that breach them."""

    def __init__(
        self,
        rollouts: SourceRollouts,
        windows: SourceWindows,
        limits: Mapping[Source, RollbackSettings],
        metrics: RolloutMetrics | None = None,
    ) -> None:
        self._rollouts = rollouts
        #: The KPI windows it judges (the app tells them of every upstream call).
        self.windows = windows
        self._limits = dict(limits)
        self._metrics = metrics
        #: Each source's rollout (mode, when changed) as the last check found it.
        self._seen: dict[Source, tuple[RolloutMode, datetime | None]] = {}

    async def check(self) -> dict[Source, RolloutMode]:
        """One round: every source that moved back, and the mode it moved to."""
        moved: dict[Source, RolloutMode] = {}
        current = await self._rollouts.current(fresh=True)
        for source, limits in self._limits.items():
            rollout = current.get(source)
            if rollout is None:
                continue
            state = (rollout.mode, rollout.changed_at)
            seen, self._seen[source] = self._seen.get(source), state
            if seen != state:
                # First seen, or moved since the last check: the window may hold the traffic
                # of another phase (another instance may have just moved it). The first check
                # runs as the process starts, with nothing in its windows to lose.
                self.windows.forget(source)
                continue
            figures = self.windows.figures(source, limits.window_seconds)
            found = breaches(rollout.mode, figures, limits)
            if not found:
                continue
            kept = await self._rollouts.move_back(
                source, rollout.mode, changed_by=ROLLBACK, reason="; ".join(str(b) for b in found)
            )
            self.windows.forget(source)
            if kept is None:
                logger.info("%s was moved back by another instance first", source.value)
                continue
            self._seen[source] = (kept.mode, kept.changed_at)
            to = kept.mode
            logger.warning(
                "rolled %s back from %s to %s: %s",
                source.value,
                rollout.mode.value,
                to.value,
                "; ".join(str(b) for b in found),
            )
            if self._metrics is not None:
                self._metrics.rollbacks.labels(
                    source.value, rollout.mode.value, to.value, found[0].criterion
                ).inc()
            moved[source] = to
        return moved

    async def run(self, every_seconds: float) -> None:
        """Check every ``every_seconds`` until cancelled; a failed round is logged and the
        next one tried."""
        while True:
            try:
                await self.check()
            except Exception:
                logger.warning("the rollback check failed; trying again", exc_info=True)
            await asyncio.sleep(every_seconds)
