"""Each source's rollout as it stands, changed by supervisors, and its shadow comparisons.

``SourceRollouts`` is the app's ``kernel.rollout.RolloutGate``: the configured modes (each
source's settings) with the changes kept in PostgreSQL on top, re-read at most every
``refresh_seconds`` so that every instance converges on a change without a restart. If the
store cannot be read, the last modes read stay in force (and the configured ones before the
first read): a store outage must not switch a source on or off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from app.rollout.metrics import RolloutMetrics
from app.rollout.window import SourceWindows
from kernel.access import AuditEntry, AuditSink, AuditUnavailable, Principal
from kernel.models import Source
from kernel.rollout import RolloutMode, RolloutStore, ShadowOutcome, SourceRollout

logger = logging.getLogger(__name__)

#: The audit trail's kind for a change of a source's rollout.
ROLLOUT_CHANGE = "ROLLOUT_CHANGE"


class SourceRollouts:
    """The modes now, supervisors' changes, and the shadow reads' tallies (this process)."""

    def __init__(
        self,
        configured: Mapping[Source, SourceRollout],
        store: RolloutStore,
        *,
        refresh_seconds: float = 5.0,
        max_shadow_reads: int = 50,
        audit: AuditSink | None = None,
        metrics: RolloutMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        windows: SourceWindows | None = None,
    ) -> None:
        #: Where shadow comparisons go for the rollback criteria (``app.rollout.rollback``).
        self.windows = windows
        #: Told of every shadow comparison too: (source, agreed) (the KPIs' daily counts).
        self.comparison_watchers: list[Callable[[Source, bool], None]] = []
        self._configured = dict(configured)
        self._store = store
        self._refresh_seconds = refresh_seconds
        self._max_shadow_reads = max_shadow_reads
        self._audit = audit
        self._metrics = metrics
        self._clock = clock
        self._overrides: Mapping[Source, SourceRollout] = {}
        #: The configured modes with the overrides on top: what ``current`` answers.
        self._modes: Mapping[Source, SourceRollout] = dict(configured)
        self._read_at: float | None = None
        #: The store read under way, which every request finding the modes due waits for.
        self._reading: asyncio.Task[None] | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        #: (source, outcome, reason) -> comparisons, since this process started.
        self.shadow_tally: Counter[tuple[Source, ShadowOutcome | None, str]] = Counter()

    async def current(self, *, fresh: bool = False) -> Mapping[Source, SourceRollout]:
        """The modes now; read from the store when ``refresh_seconds`` have passed (or
        ``fresh``: a read of its own, begun after the call).

        The requests that find the modes due while a read is under way wait for that read
        rather than each making one: under load, every request arriving during the read's
        round trip would otherwise query PostgreSQL too, every ``refresh_seconds``. The
        read runs as a task of its own, so a requester cancelled meanwhile (its deadline)
        cancels nobody else's wait.
        """
        if fresh:
            await self._read()
            return self._modes
        now = self._clock()
        if self._read_at is None or now - self._read_at >= self._refresh_seconds:
            if self._reading is None:
                self._reading = asyncio.ensure_future(self._read())
                self._reading.add_done_callback(self._read_ended)
            await asyncio.shield(self._reading)
        return self._modes

    async def _read(self) -> None:
        started = self._clock()
        try:
            self._set_overrides(await self._store.rollout_overrides())
        except Exception:
            # Keep serving the modes last read: the store's own errors are its concern.
            logger.warning("could not read the sources' rollout; keeping the last read")
        self._read_at = started

    def _read_ended(self, task: asyncio.Task[None]) -> None:
        self._reading = None

    def _set_overrides(self, overrides: Mapping[Source, SourceRollout]) -> None:
        self._overrides = overrides
        self._modes = {**self._configured, **overrides}

    async def mode_of(self, source: Source) -> RolloutMode:
        """The mode ``source`` is in now."""
        found = (await self.current()).get(source)
        return found.mode if found is not None else RolloutMode.ON

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        if len(self._shadow_tasks) >= self._max_shadow_reads:
            self._count(source, None, "busy")
            return
        task = asyncio.create_task(self._compare(source, compare))
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def drain(self) -> None:
        """Wait for the shadow comparisons under way (tests; a worker stopping)."""
        while self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)

    def shadow_counts(self, source: Source) -> tuple[int, int, dict[str, int]]:
        """``source``'s shadow comparisons in this process: agreed, disagreed, and the
        disagreements by reason."""
        agreed = disagreed = 0
        reasons: dict[str, int] = {}
        for (counted, outcome, reason), count in self.shadow_tally.items():
            if counted is not source:
                continue
            if outcome is ShadowOutcome.AGREE:
                agreed += count
            elif outcome is ShadowOutcome.DISAGREE:
                disagreed += count
                reasons[reason] = reasons.get(reason, 0) + count
        return agreed, disagreed, reasons

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
        before = (await self.current()).get(source) or SourceRollout(source, RolloutMode.ON)
        wanted = replace(
            before,
            mode=mode,
            pilot_subjects=before.pilot_subjects if pilot_subjects is None else pilot_subjects,
            pilot_queues=before.pilot_queues if pilot_queues is None else pilot_queues,
            changed_by=changed_by.subject,
            reason=reason,
        )
        kept = await self._store.save_rollout(wanted)
        await self._changed(before.mode, kept, changed_by, request_id)
        return kept

    async def move_back(
        self, source: Source, expected: RolloutMode, *, changed_by: Principal, reason: str
    ) -> SourceRollout | None:
        """Move ``source`` from ``expected`` one phase back, in one atomic step of the store:
        None (and nothing recorded) when it was no longer in ``expected``, another instance
        having moved it first; the modes are then read afresh."""
        before = (await self.current()).get(source) or SourceRollout(source, expected)
        wanted = replace(
            before, mode=expected.one_back(), changed_by=changed_by.subject, reason=reason
        )
        kept = await self._store.move_rollout(wanted, expected)
        if kept is None:
            await self.current(fresh=True)
            return None
        await self._changed(expected, kept, changed_by, None)
        return kept

    async def _changed(
        self,
        before: RolloutMode,
        kept: SourceRollout,
        changed_by: Principal,
        request_id: str | None,
    ) -> None:
        """A change kept: this instance serves it at once; counted and audited."""
        self._set_overrides({**self._overrides, kept.source: kept})
        if self._metrics is not None:
            self._metrics.mode_changes.labels(
                kept.source.value, kept.mode.value, changed_by.role
            ).inc()
        await self._record_change(before, kept, changed_by, request_id)

    async def _record_change(
        self,
        before: RolloutMode,
        kept: SourceRollout,
        changed_by: Principal,
        request_id: str | None,
    ) -> None:
        if self._audit is None:
            return
        entry = AuditEntry(
            kind=ROLLOUT_CHANGE,
            subject=changed_by.subject,
            role=changed_by.role,
            outcome=kept.mode.value,
            request_id=request_id,
            detail=f"{kept.source.value}: {before.value} -> {kept.mode.value}",
        )
        try:
            await self._audit.record([entry])
        except AuditUnavailable:
            # The row is the durable record of the change; an audit outage does not undo it.
            logger.warning("the rollout change of %s was not audited", kept.source.value)

    async def _compare(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        try:
            outcome, reason = await compare()
        except Exception as exc:
            # The comparison's own failure is a disagreement of unknown cause, never a crash
            # of the request it rode on (which has already been answered).
            outcome, reason = ShadowOutcome.DISAGREE, getattr(exc, "code", type(exc).__name__)
        self._count(source, outcome, reason)

    def _count(self, source: Source, outcome: ShadowOutcome | None, reason: str) -> None:
        self.shadow_tally[(source, outcome, reason)] += 1
        if outcome is not None:
            agreed = outcome is ShadowOutcome.AGREE
            if self.windows is not None:
                self.windows.observe_comparison(source, agreed)
            for watcher in self.comparison_watchers:
                watcher(source, agreed)
        if self._metrics is not None:
            label = outcome.value if outcome is not None else "skipped"
            self._metrics.shadow_comparisons.labels(source.value, label, reason).inc()


def configured_rollouts(
    sections: Mapping[Source, tuple[RolloutMode, frozenset[str], frozenset[str]]],
) -> dict[Source, SourceRollout]:
    """Each source's rollout as its settings give it (mode, pilot subjects, pilot queues)."""
    return {
        source: SourceRollout(source, mode, pilot_subjects=subjects, pilot_queues=queues)
        for source, (mode, subjects, queues) in sections.items()
    }
