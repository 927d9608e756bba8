"""Supervisors see and move each source's rollout: ``sourceRollouts`` and
``setSourceRollout`` (docs/rollout.md). The change is kept in PostgreSQL, so every instance
serves the new mode within its refresh, and audited (``ROLLOUT_CHANGE``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from kernel.client_errors import BadUserInput, Forbidden, GatewayError
from kernel.rollout import RolloutGate, RolloutMode, SourceRollout
from resolvers.types.common import Info, Source

#: Only supervisors move a source between phases.
ROLLOUT_ROLES = frozenset({"supervisor"})
#: A cohort is a handful of people or queues, and a reason a sentence.
MAX_COHORT = 500
MAX_REASON = 500


@strawberry.type(name="SourceRollout", description="One source's rollout as it stands.")
class SourceRolloutView:
    source: Source
    mode: RolloutMode
    pilot_subjects: list[str] = strawberry.field(description="PILOT: subjects served.")
    pilot_queues: list[str] = strawberry.field(description="PILOT: queues served.")
    changed_by: str | None = strawberry.field(
        description="Who changed it last; null: the configured mode, never changed."
    )
    changed_at: datetime | None
    reason: str | None

    @classmethod
    def from_rollout(cls, rollout: SourceRollout) -> SourceRolloutView:
        return cls(
            source=rollout.source,
            mode=rollout.mode,
            pilot_subjects=sorted(rollout.pilot_subjects),
            pilot_queues=sorted(rollout.pilot_queues),
            changed_by=rollout.changed_by,
            changed_at=rollout.changed_at,
            reason=rollout.reason,
        )


def _gate(info: Info) -> RolloutGate:
    context = info.context
    if context.principal.role not in ROLLOUT_ROLES:
        raise Forbidden(f"role {context.principal.role} may not see or change the rollout")
    if context.rollout_gate is None:
        raise GatewayError("the rollout is not available")
    return context.rollout_gate


def _cohort(name: str, values: list[str] | None) -> frozenset[str] | None:
    if values is None:
        return None
    cleaned = frozenset(value.strip() for value in values)
    if len(cleaned) > MAX_COHORT or "" in cleaned:
        raise BadUserInput(f"{name} takes 1..{MAX_COHORT} non-empty names")
    return cleaned


@strawberry.type
class RolloutQuery:
    @strawberry.field(description="Every source's rollout as it stands (supervisors).")
    async def source_rollouts(self, info: Info) -> list[SourceRolloutView]:
        current = await _gate(info).current()
        return [SourceRolloutView.from_rollout(current[s]) for s in Source if s in current]


@strawberry.type
class RolloutMutation:
    @strawberry.mutation(
        description="Move a source to a rollout mode (supervisors; audited). Every instance "
        "serves it within SCV_ROLLOUT__REFRESH_SECONDS. pilotSubjects / pilotQueues replace "
        "the cohort when given, and are kept as they are when not."
    )
    async def set_source_rollout(
        self,
        info: Info,
        source: Source,
        mode: RolloutMode,
        reason: str,
        pilot_subjects: list[str] | None = None,
        pilot_queues: list[str] | None = None,
    ) -> SourceRolloutView:
        gate = _gate(info)
        # Checked before anything is kept: a refused change changes nothing.
        if not reason.strip() or len(reason) > MAX_REASON:
            raise BadUserInput(f"reason must be 1..{MAX_REASON} characters")
        subjects = _cohort("pilotSubjects", pilot_subjects)
        queues = _cohort("pilotQueues", pilot_queues)
        if source not in await gate.current():
            raise BadUserInput(f"{source.value} is not a registered source")
        kept = await gate.change(
            source,
            mode,
            changed_by=info.context.principal,
            reason=reason.strip(),
            pilot_subjects=subjects,
            pilot_queues=queues,
            request_id=info.context.request_id,
        )
        return SourceRolloutView.from_rollout(kept)
