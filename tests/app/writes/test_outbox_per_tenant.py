"""The outbox holds every tenant's writes: its worker delivers each through its own
tenant's sources (``SourcesOf``: one CRM per tenant here, at the boundary under test) and
records each outcome on its own tenant's trail, over a real store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry

from app.store.customers import Store
from app.store.writes import NewWrite, WriteStore
from app.writes.delivery import NO_SOURCE, Delivery
from app.writes.metrics import WriteMetrics
from app.writes.settings import WritesSettings
from app.writes.worker import OutboxWorker
from kernel.access import AuditEntry
from kernel.models import CrmContactId, Source
from kernel.tenancy import TenantId
from kernel.writes import WriteKind

ACME, GLOBEX, GONE = TenantId("acme"), TenantId("globex"), TenantId("gone")


class TenantCrm:
    """One tenant's CRM account: the notes written to it."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []

    async def create_note(self, contact_id: CrmContactId, body: str, at: datetime) -> str:
        self.notes.append((contact_id, body))
        return f"note-{len(self.notes)}"


class Trail:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        self.entries.extend(entries)


def _note(key: str, contact: str, body: str) -> NewWrite:
    return NewWrite(
        principal="agent-1",
        principal_role="agent",
        idempotency_key=key,
        input_hash=key,
        kind=WriteKind.CUSTOMER_NOTE.value,
        source="crm",
        customer_id=f"cust-{contact}",
        target_record_id=contact,
        input={"values": {"body": body}, "owner": contact},
        fields=("body",),
        expected_version=None,
        vendor_key=key,
        interaction_id=None,
    )


async def test_each_write_goes_to_its_own_tenants_source_and_trail(store: Store) -> None:
    crms = {ACME: TenantCrm(), GLOBEX: TenantCrm()}
    sources: dict[TenantId, Mapping[Source, object]] = {
        tenant: {Source.CRM: crm} for tenant, crm in crms.items()
    }
    trail = Trail()
    settings = WritesSettings()
    metrics = WriteMetrics.create(CollectorRegistry(), CollectorRegistry())

    forgotten: list[tuple[TenantId, Source, str]] = []

    async def forget(tenant: TenantId, source: Source, record_id: str) -> None:
        forgotten.append((tenant, source, record_id))

    def sources_of(tenant: TenantId) -> Mapping[Source, object]:
        return sources.get(tenant, {})

    outbox = WriteStore(store)
    delivery = Delivery(outbox, sources_of, settings, metrics, trail, forget)
    # Accepted by each tenant's requests, due at once (no lease), both for contact 1001.
    await WriteStore(store.for_tenant(ACME)).accept(_note("k1", "1001", "acme's note"), 0)
    await WriteStore(store.for_tenant(GLOBEX)).accept(_note("k1", "1001", "globex's note"), 0)
    waiting, _ = await WriteStore(store.for_tenant(GONE)).accept(
        _note("k1", "1001", "nobody's note"), 0
    )

    assert await OutboxWorker(outbox, delivery, settings).run_once() == 3

    assert crms[ACME].notes == [("1001", "acme's note")]
    assert crms[GLOBEX].notes == [("1001", "globex's note")]
    applied = {(entry.tenant, entry.outcome) for entry in trail.entries}
    assert applied == {(ACME, "APPLIED"), (GLOBEX, "APPLIED")}
    # Each written record is forgotten in its own tenant's cache, not the default's.
    assert sorted(forgotten) == sorted([(ACME, Source.CRM, "1001"), (GLOBEX, Source.CRM, "1001")])
    # A tenant without the source keeps its write waiting (not sent anywhere else).
    gone = await WriteStore(store.for_tenant(GONE)).get(waiting.id)
    assert gone is not None
    assert (gone.status, gone.last_error) == ("PENDING", NO_SOURCE)
