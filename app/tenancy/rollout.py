"""The sources' rollout, which every served tenant shares, guarded at the tenants' boundary.

A source's phased rollout (``app.rollout``) is the platform's, not one tenant's: a change
moves the source for every tenant. With several tenants served, a supervisor of one of
them may see it but not change it; a principal acting for every served tenant may. (Once
each tenant has its own sources, each tenant's rollout can be its own.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from kernel.access import Principal
from kernel.client_errors import Forbidden
from kernel.models import Source
from kernel.rollout import RolloutGate, RolloutMode, ShadowOutcome, SourceRollout
from kernel.tenancy import TenantId


class PlatformRolloutGate:
    """``gate`` (a ``RolloutGate``), its changes refused to whoever does not act for every
    tenant in ``served``."""

    def __init__(self, gate: RolloutGate, served: frozenset[TenantId]) -> None:
        self._gate = gate
        self._served = served

    async def current(self) -> Mapping[Source, SourceRollout]:
        """Every source's rollout as it stands."""
        return await self._gate.current()

    def shadow(
        self, source: Source, compare: Callable[[], Awaitable[tuple[ShadowOutcome, str]]]
    ) -> None:
        """The gate's shadow comparison."""
        self._gate.shadow(source, compare)

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
        """The gate's change, for a principal acting for every served tenant only."""
        if not self._served <= changed_by.tenants:
            raise Forbidden(
                "a source's rollout is every tenant's: only a principal acting for all of them "
                "may change it"
            )
        return await self._gate.change(
            source,
            mode,
            changed_by=changed_by,
            reason=reason,
            pilot_subjects=pilot_subjects,
            pilot_queues=pilot_queues,
            request_id=request_id,
        )
