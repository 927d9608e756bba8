"""The write service over a real store, a recording CRM and an audit that can fail: a write
that cannot be audited is not made, and a supervisor's note needs no call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pytest
from prometheus_client import CollectorRegistry

from app.store.customers import Store
from app.store.writes import WriteStore
from app.writes.delivery import Delivery
from app.writes.metrics import WriteMetrics
from app.writes.service import Writes
from app.writes.settings import WritesSettings
from kernel.access import AuditEntry, AuditUnavailable, Principal
from kernel.client_errors import PersonalDataWithheld
from kernel.models import CrmContactId, Source
from kernel.tenancy import TenantId
from kernel.writes import WriteActor, WriteKind, WriteRequest, WriteStatus
from tests.resolvers.memory_store import MemoryStore


class RecordingCrm:
    """The CRM at the boundary under test: it keeps the notes it is asked to write."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []

    async def create_note(self, contact_id: CrmContactId, body: str, at: datetime) -> str:
        self.notes.append((contact_id, body))
        return f"note-{len(self.notes)}"


class Audit:
    def __init__(self, *, working: bool) -> None:
        self.working = working
        self.entries: list[AuditEntry] = []

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        if not self.working:
            raise AuditUnavailable("down")
        self.entries.extend(entries)


def _service(store: Store, crm: RecordingCrm, audit: Audit) -> Writes:
    identities = MemoryStore()
    identities.add("cust-1", "Ada", [(Source.CRM, "1001")])
    settings = WritesSettings()
    metrics = WriteMetrics.create(CollectorRegistry(), CollectorRegistry())
    adapters: Mapping[Source, object] = {Source.CRM: crm}

    async def forget(tenant: TenantId, source: Source, record_id: str) -> None:
        return None

    write_store = WriteStore(store)
    delivery = Delivery(write_store, lambda tenant: adapters, settings, metrics, audit, forget)
    return Writes(
        write_store,
        identities,
        delivery,
        settings,
        metrics,
        audit,
        default_region="GB",
        record_nouns={Source.CRM: "CRM contact"},
    )


SUPERVISOR = WriteActor(Principal("sup-1", "supervisor"))


def _note(key: str) -> WriteRequest:
    return WriteRequest(WriteKind.CUSTOMER_NOTE, key, {"body": "Called back"}, customer_id="cust-1")


async def test_a_write_that_cannot_be_audited_is_not_made(store: Store) -> None:
    crm = RecordingCrm()
    writes = _service(store, crm, Audit(working=False))

    with pytest.raises(PersonalDataWithheld):
        await writes.submit(SUPERVISOR, _note("k-audit"))

    assert crm.notes == []
    assert await WriteStore(store).count_by_status() == {}


async def test_a_supervisors_note_is_applied_once_and_audited_by_field(store: Store) -> None:
    crm = RecordingCrm()
    audit = Audit(working=True)
    writes = _service(store, crm, audit)

    first = await writes.submit(SUPERVISOR, _note("k-sup"))
    again = await writes.submit(SUPERVISOR, _note("k-sup"))

    assert first.status is WriteStatus.APPLIED
    assert (again.id, again.record_id) == (first.id, "note-1")
    assert crm.notes == [("1001", "Called back")]
    outcomes = [(entry.kind, entry.outcome, entry.fields) for entry in audit.entries]
    assert ("WRITE", "ACCEPTED", ("body",)) in outcomes
    assert ("WRITE", "APPLIED", ("body",)) in outcomes
    assert all("Called back" not in str(entry) for entry in audit.entries)
