"""What the tenancy package guards at the boundary: each tenant's audit entries on its own
trail, and the sources' rollout (every tenant's) changed only by who acts for all."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from app.tenancy.audit import TenantAuditSink
from app.tenancy.rollout import PlatformRolloutGate
from kernel.access import AuditEntry, Principal
from kernel.client_errors import Forbidden
from kernel.models import Source
from kernel.rollout import RolloutMode, SourceRollout
from kernel.tenancy import TenantId

ACME, GLOBEX = TenantId("acme"), TenantId("globex")


class Trail:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        self.entries.extend(entries)


async def test_a_tenants_sink_stamps_the_entries_that_name_no_tenant() -> None:
    trail = Trail()
    sink = TenantAuditSink(trail, GLOBEX)
    await sink.record(
        [
            AuditEntry(kind="WRITE", subject="a", role="agent", outcome="REFUSED"),
            AuditEntry(kind="READ", subject="a", role="agent", outcome="denied", tenant=ACME),
        ]
    )
    assert [entry.tenant for entry in trail.entries] == [GLOBEX, ACME]


class Gate:
    def __init__(self) -> None:
        self.changed: list[tuple[Source, RolloutMode]] = []

    async def current(self) -> dict[Source, SourceRollout]:
        return {}

    def shadow(self, source: Source, compare: object) -> None:
        pass

    async def change(
        self, source: Source, mode: RolloutMode, *, changed_by: Principal, **rest: object
    ) -> SourceRollout:
        self.changed.append((source, mode))
        return SourceRollout(source=source, mode=mode)


@pytest.mark.parametrize(
    ("tenants", "allowed"),
    [({ACME}, False), ({GLOBEX}, False), (set(), False), ({ACME, GLOBEX}, True)],
)
async def test_only_who_acts_for_every_tenant_changes_a_shared_rollout(
    tenants: set[TenantId], allowed: bool
) -> None:
    gate = Gate()
    platform = PlatformRolloutGate(gate, frozenset({ACME, GLOBEX}))  # type: ignore[arg-type]
    supervisor = Principal("sup-1", "supervisor", tenants=frozenset(tenants))
    change = platform.change(Source.CRM, RolloutMode.OFF, changed_by=supervisor, reason="why")
    if allowed:
        await change
        assert gate.changed == [(Source.CRM, RolloutMode.OFF)]
    else:
        with pytest.raises(Forbidden):
            await change
        assert gate.changed == []
