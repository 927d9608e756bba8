"""The audit trail through the schema (auditTrail): supervisors only, newest first, its
arguments."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry

from kernel.access import AuditEntry, Principal
from tests.fake_systems import FakeSystems
from tests.resolvers.extensions.masking_roles.masking_roles_kit import (
    ADA,
    AGENT,
    ANALYST,
    IVR,
    SUPERVISOR,
    run,
)
from tests.resolvers.memory_audit import MemoryAuditReader
from tests.resolvers.memory_store import MemoryStore

# --- auditTrail ------------------------------------------------------------------------------

TRAIL = """query($id: ID!, $first: Int, $after: String) {
  auditTrail(customerId: $id, first: $first, after: $after) {
    events { kind subject outcome fields purpose } endCursor hasNextPage } }"""


def reader_with(count: int) -> MemoryAuditReader:
    return MemoryAuditReader(
        [
            AuditEntry(
                kind="READ", subject=f"agent-{n}", role="agent", outcome="masked", customer_id=ADA
            )
            for n in range(1, count + 1)
        ]
    )


@pytest.mark.parametrize("principal", [AGENT, ANALYST, IVR], ids=lambda p: p.role)
async def test_only_supervisors_may_read_the_audit_trail(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore, principal: Principal
) -> None:
    data, errors = await run(
        schema, systems, store, principal, query=TRAIL, reader=reader_with(1), id="ada"
    )
    assert data == {"auditTrail": None}
    assert errors[0]["extensions"] == {"code": "FORBIDDEN"}


async def test_a_supervisor_pages_through_the_trail_newest_first(
    schema: strawberry.Schema, systems: FakeSystems, store: MemoryStore
) -> None:
    reader = reader_with(3)
    first, errors = await run(
        schema, systems, store, SUPERVISOR, query=TRAIL, reader=reader, id="ada", first=2
    )
    assert errors == []
    page = first["auditTrail"]
    assert [e["subject"] for e in page["events"]] == ["agent-3", "agent-2"]
    assert page["hasNextPage"] is True
    second, _ = await run(
        schema,
        systems,
        store,
        SUPERVISOR,
        query=TRAIL,
        reader=reader,
        id="ada",
        first=2,
        after=page["endCursor"],
    )
    assert [e["subject"] for e in second["auditTrail"]["events"]] == ["agent-1"]
    assert second["auditTrail"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"after": "not-a-cursor"}, "after is not a cursor from auditTrail"),
        ({"first": 0}, "first must be between 1 and 100"),
        ({"first": 101}, "first must be between 1 and 100"),
    ],
    ids=["cursor", "first-0", "first-101"],
)
async def test_bad_audit_trail_arguments_get_a_clear_error(
    schema: strawberry.Schema,
    systems: FakeSystems,
    store: MemoryStore,
    variables: dict[str, Any],
    message: str,
) -> None:
    _, errors = await run(
        schema,
        systems,
        store,
        SUPERVISOR,
        query=TRAIL,
        reader=reader_with(1),
        id="ada",
        **variables,
    )
    assert errors[0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert message in errors[0]["message"]
