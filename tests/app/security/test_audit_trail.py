"""The audit trail on a real PostgreSQL: append-only, read back, pruned, and failing closed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import strawberry
from prometheus_client import CollectorRegistry

from app.http.errors import PresentErrors
from app.security.audit import PostgresAuditSink, prune_audit_trail
from app.security.audit_metrics import AuditMetrics
from app.security.settings import AuditSettings
from app.store.audit import AuditTrailStore
from app.store.customers import Store
from kernel.access import (
    ActiveInteraction,
    AuditEntry,
    AuditSink,
    AuditUnavailable,
    Principal,
    VerificationLevel,
)
from kernel.identity import CustomerId
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import named_store

ADA = CustomerId("ada")
T_NOW = datetime.now(UTC)

WHOLE = """{ customer(id: "ada") {
  id displayName profile { name email phone } billing { delinquent paymentCards { last4 } }
} }"""


def entry(n: int = 1, customer: str = "ada", **changes: Any) -> AuditEntry:
    values: dict[str, Any] = {
        "kind": "READ",
        "subject": f"agent-{n}",
        "role": "agent",
        "outcome": "masked",
        "customer_id": CustomerId(customer),
        "request_id": f"req-{n}",
        "fields": ("Profile.email", "Profile.phone"),
        "masked": True,
        "client_address": "10.0.0.7",
    }
    values.update(changes)
    return AuditEntry(**values)


@pytest.fixture
def trail(store: Store) -> AuditTrailStore:
    return AuditTrailStore(store)


@pytest.fixture
def metrics() -> AuditMetrics:
    return AuditMetrics.create(CollectorRegistry())


def sink_for(trail: AuditTrailStore, metrics: AuditMetrics, timeout: float = 2.0) -> AuditSink:
    return PostgresAuditSink(trail, AuditSettings(write_timeout_seconds=timeout), metrics)


async def add_entry_dated(store: Store, at: datetime) -> None:
    async with store.pool.acquire() as conn:
        await conn.execute(
            "insert into audit_trail (at, kind, subject, role, outcome, customer_id)"
            " values ($1, 'READ', 'agent-old', 'agent', 'masked', 'ada')",
            at,
        )


# --- the table -------------------------------------------------------------------------------


async def test_entries_read_back_newest_first_without_values(trail: AuditTrailStore) -> None:
    await trail.append([entry(1), entry(2, purpose="complaint C-77", interaction_id="int-1")])
    page = await trail.read_audit_trail(ADA, 10, None)
    assert [r.entry.subject for r in page.entries] == ["agent-2", "agent-1"]
    newest = page.entries[0].entry
    assert newest.fields == ("Profile.email", "Profile.phone")
    assert (newest.masked, newest.purpose, newest.interaction_id) == (
        True,
        "complaint C-77",
        "int-1",
    )
    assert (newest.request_id, newest.client_address) == ("req-2", "10.0.0.7")
    assert newest.at is not None
    assert page.has_more is False


async def test_a_page_says_whether_older_entries_remain(trail: AuditTrailStore) -> None:
    await trail.append([entry(n) for n in range(1, 6)])
    first = await trail.read_audit_trail(ADA, 2, None)
    assert [r.entry.subject for r in first.entries] == ["agent-5", "agent-4"]
    assert first.has_more is True
    rest = await trail.read_audit_trail(ADA, 10, first.entries[-1].id)
    assert [r.entry.subject for r in rest.entries] == ["agent-3", "agent-2", "agent-1"]
    assert rest.has_more is False


async def test_the_trail_of_one_customer_holds_no_other(trail: AuditTrailStore) -> None:
    await trail.append([entry(1, "ada"), entry(2, "grace")])
    page = await trail.read_audit_trail(ADA, 10, None)
    assert [r.entry.customer_id for r in page.entries] == ["ada"]


async def test_an_empty_fields_list_reads_back_empty(trail: AuditTrailStore) -> None:
    await trail.append([entry(1, fields=())])
    page = await trail.read_audit_trail(ADA, 1, None)
    assert page.entries[0].entry.fields == ()


async def test_a_field_name_with_a_comma_is_refused_and_nothing_written(
    trail: AuditTrailStore,
) -> None:
    with pytest.raises(ValueError, match="commas"):
        await trail.append([entry(1), entry(2, fields=("Profile.email,phone",))])
    assert (await trail.read_audit_trail(ADA, 10, None)).entries == ()


@pytest.mark.parametrize(
    "statement",
    [
        "update audit_trail set outcome = 'served'",
        "delete from audit_trail",
        "truncate audit_trail",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_trail_refuses_to_be_rewritten(
    store: Store, trail: AuditTrailStore, statement: str
) -> None:
    await trail.append([entry(1)])
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement)
    assert len((await trail.read_audit_trail(ADA, 10, None)).entries) == 1


async def test_old_entries_cannot_be_deleted_by_hand_either(
    store: Store, trail: AuditTrailStore
) -> None:
    await add_entry_dated(store, T_NOW - timedelta(days=1000))
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("delete from audit_trail where at < now() - interval '1 year'")


# --- retention -------------------------------------------------------------------------------


async def test_pruning_deletes_only_entries_past_retention(
    store: Store, trail: AuditTrailStore
) -> None:
    await add_entry_dated(store, T_NOW - timedelta(days=500))
    await add_entry_dated(store, T_NOW - timedelta(days=10))
    await trail.append([entry(1)])
    removed = await prune_audit_trail(trail, AuditSettings(retention_days=400))
    assert removed == 1
    page = await trail.read_audit_trail(ADA, 10, None)
    assert len(page.entries) == 2


async def test_pruning_never_reaches_into_the_last_day(trail: AuditTrailStore) -> None:
    with pytest.raises(asyncpg.InvalidParameterValueError, match="keeps at least the last day"):
        await trail.prune(T_NOW - timedelta(hours=1))


async def test_after_pruning_the_trail_is_append_only_again(
    store: Store, trail: AuditTrailStore
) -> None:
    await add_entry_dated(store, T_NOW - timedelta(days=500))
    await prune_audit_trail(trail, AuditSettings(retention_days=400))
    await add_entry_dated(store, T_NOW - timedelta(days=500))
    async with store.pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("delete from audit_trail")


# --- the sink --------------------------------------------------------------------------------


async def test_the_sink_writes_a_batch_and_counts_it(
    trail: AuditTrailStore, metrics: AuditMetrics
) -> None:
    await sink_for(trail, metrics).record([entry(1), entry(2, kind="PURPOSE")])
    assert len((await trail.read_audit_trail(ADA, 10, None)).entries) == 2
    assert metrics.writes.labels("ok")._value.get() == 1
    assert metrics.entries.labels("READ")._value.get() == 1
    assert metrics.entries.labels("PURPOSE")._value.get() == 1


async def test_the_sink_turns_a_closed_store_into_audit_unavailable(
    database_url: str, metrics: AuditMetrics
) -> None:
    closed = await Store.connect(database_url, pool_size=1)
    await closed.close()
    with pytest.raises(AuditUnavailable):
        await sink_for(AuditTrailStore(closed), metrics).record([entry(1)])
    assert metrics.writes.labels("failed")._value.get() == 1


async def test_a_write_held_past_its_deadline_is_audit_unavailable(
    store: Store, trail: AuditTrailStore, metrics: AuditMetrics
) -> None:
    # Another transaction holds the table: the insert waits, the deadline ends the wait.
    async with store.pool.acquire() as conn, conn.transaction():
        await conn.execute("lock table audit_trail in access exclusive mode")
        with pytest.raises(AuditUnavailable):
            await sink_for(trail, metrics, timeout=0.2).record([entry(1)])
    assert (await trail.read_audit_trail(ADA, 10, None)).entries == ()


# --- through the schema ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


async def query(
    schema: strawberry.Schema,
    sink: AuditSink,
    principal: Principal,
    *,
    interaction: ActiveInteraction | None = None,
    purpose: str | None = None,
    document: str = WHOLE,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)
    context = new_context(
        principal,
        named_store(),
        sources,
        "US",
        interaction=interaction,
        purpose=purpose,
        audit=sink,
        request_id="req-77",
    )
    result = await schema.execute(document, context_value=context)
    return result.data or {}, [dict(e.formatted) for e in result.errors or []]


READS = [
    pytest.param(Principal("agent-1", "agent"), None, None, "masked", id="unverified-agent"),
    pytest.param(Principal("analyst-1", "analyst"), None, None, "masked", id="analyst"),
    pytest.param(
        Principal("agent-1", "agent"),
        ActiveInteraction("int-1", "contact-1", ADA, "agent-1", VerificationLevel.HIGH),
        None,
        "served",
        id="verified-agent",
    ),
    pytest.param(Principal("supervisor-1", "supervisor"), None, "C-77", "served", id="supervisor"),
    pytest.param(Principal("ivr-1", "ivr"), None, None, "denied", id="ivr"),
]


@pytest.mark.parametrize(("principal", "interaction", "purpose", "outcome"), READS)
async def test_every_response_with_personal_data_leaves_a_row(
    schema: strawberry.Schema,
    trail: AuditTrailStore,
    metrics: AuditMetrics,
    principal: Principal,
    interaction: ActiveInteraction | None,
    purpose: str | None,
    outcome: str,
) -> None:
    await query(
        schema, sink_for(trail, metrics), principal, interaction=interaction, purpose=purpose
    )
    page = await trail.read_audit_trail(ADA, 10, None)
    reads = [r.entry for r in page.entries if r.entry.kind == "READ"]
    assert len(reads) == 1
    [read] = reads
    assert (read.subject, read.role, read.outcome, read.request_id) == (
        principal.subject,
        principal.role,
        outcome,
        "req-77",
    )
    assert read.purpose == purpose
    assert read.interaction_id == (interaction.interaction_id if interaction else None)


async def test_when_the_audit_store_is_down_personal_fields_are_withheld(
    schema: strawberry.Schema, database_url: str, metrics: AuditMetrics
) -> None:
    down = await Store.connect(database_url, pool_size=1)
    await down.close()
    data, errors = await query(
        schema,
        sink_for(AuditTrailStore(down), metrics),
        Principal("agent-1", "agent"),
        interaction=ActiveInteraction("int-1", "contact-1", ADA, "agent-1", VerificationLevel.HIGH),
    )
    assert data["customer"] == {
        "id": "ada",
        "displayName": None,
        "profile": {"name": None, "email": None, "phone": None},
        "billing": {"delinquent": False, "paymentCards": [{"last4": None}]},
    }
    assert {e["extensions"]["code"] for e in errors} == {"AUDIT_UNAVAILABLE"}
    assert len(errors) == 5


async def test_concurrent_requests_each_leave_their_own_row(
    schema: strawberry.Schema, trail: AuditTrailStore, metrics: AuditMetrics
) -> None:
    sink = sink_for(trail, metrics)
    await asyncio.gather(
        *(query(schema, sink, Principal(f"analyst-{n}", "analyst")) for n in range(8))
    )
    page = await trail.read_audit_trail(ADA, 20, None)
    assert sorted(r.entry.subject for r in page.entries) == sorted(f"analyst-{n}" for n in range(8))
