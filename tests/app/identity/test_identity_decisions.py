"""Supervisors' link / unlink decisions: what moves, what is recorded, what later syncs keep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from app.identity.decisions import IdentityDecisionService
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from kernel.access import AuditEntry, Principal
from kernel.client_errors import BadUserInput
from kernel.identity import CustomerId
from kernel.linking import Decider
from kernel.models import Source
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, named_customers

SUPERVISOR = Principal(subject="sup-1", role="supervisor")


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        self.entries.extend(entries)


@pytest.fixture
def systems() -> FakeSystems:
    return named_customers()


@pytest.fixture
async def synced(store: Store, systems: FakeSystems) -> FakeSystems:
    await sync(store, systems)
    return systems


@pytest.fixture
def audit() -> RecordingAudit:
    return RecordingAudit()


@pytest.fixture
def decisions(store: Store) -> IdentityDecisionService:
    return IdentityDecisionService(store)


def decider(audit: RecordingAudit) -> Decider:
    return Decider(principal=SUPERVISOR, request_id="req-1", audit=audit)


async def sync(store: Store, systems: FakeSystems) -> None:
    await sync_identities(store, systems.by_source, IdentitySettings(), full=True)


async def snapshot(store: Store) -> tuple[Any, ...]:
    """Everything a decision could change."""
    queries = (
        "select * from customers order by id",
        "select * from identity_links order by source, external_id",
        "select * from lookup_keys order by source, external_id, kind, value",
        "select * from identity_decisions order by id",
    )
    tables = []
    for query in queries:
        tables.append([tuple(row) for row in await store.pool.fetch(query)])
    return tuple(tables)


# --- unlink --------------------------------------------------------------------------------


async def test_unlink_moves_the_record_to_a_customer_of_its_own(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")

    kept = await decisions.unlink(
        decider(audit), grace.id, Source.SUPPORT, "9002", "a different Grace"
    )

    moved = await customer_of(store, Source.SUPPORT, "9002")
    assert kept == grace.id
    assert moved.id != grace.id
    [link] = moved.links
    assert (link.matched_by, link.linked_via, link.confidence) == ("manual", "manual", 1.0)
    assert Source.SUPPORT not in {
        link.source for link in (await customer_of(store, Source.CRM, "1002")).links
    }


async def test_unlink_moves_the_records_lookup_keys_with_it(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")

    await decisions.unlink(decider(audit), grace.id, Source.SUPPORT, "9002", "a different Grace")

    moved = await customer_of(store, Source.SUPPORT, "9002")
    # Support wrote her phone as 415.555.0101; the CRM and billing still have it too.
    assert set(await store.find_by_phone("+14155550101")) == {grace.id, moved.id}
    assert set(await store.find_by_email("grace.hopper@example.com")) == {grace.id, moved.id}


async def test_unlink_is_recorded_with_who_and_why_and_audited_without_the_reason(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")

    await decisions.unlink(decider(audit), grace.id, Source.SUPPORT, "9002", "  she said so  ")

    row = await store.pool.fetchrow(
        "select decision, source, external_id, customer_id, reason, decided_by "
        "from identity_decisions"
    )
    assert dict(row or {}) == {
        "decision": "unlink",
        "source": "SUPPORT",
        "external_id": "9002",
        "customer_id": grace.id,
        "reason": "she said so",
        "decided_by": "sup-1",
    }
    moved = await customer_of(store, Source.SUPPORT, "9002")
    assert {(e.kind, e.customer_id, e.subject, e.outcome) for e in audit.entries} == {
        ("LINK_CHANGE", grace.id, "sup-1", "applied"),
        ("LINK_CHANGE", moved.id, "sup-1", "applied"),
    }
    assert not any("she said so" in (entry.detail or "") for entry in audit.entries)


async def test_an_unlink_survives_a_resync(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")
    await decisions.unlink(decider(audit), grace.id, Source.SUPPORT, "9002", "a different Grace")
    moved = await customer_of(store, Source.SUPPORT, "9002")

    await sync(store, synced)

    assert (await customer_of(store, Source.SUPPORT, "9002")).id == moved.id
    assert {link.source for link in (await customer_of(store, Source.CRM, "1002")).links} == {
        Source.CRM,
        Source.BILLING,
    }


async def test_the_record_that_named_the_customer_takes_its_name_along(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")

    await decisions.unlink(decider(audit), grace.id, Source.CRM, "1002", "CRM merged two people")

    moved = await customer_of(store, Source.CRM, "1002")
    left = (await store.get_customers([grace.id]))[grace.id]
    assert moved.display_name == "Grace Hopper"
    # Until the next sync reads its records' names, the customer left is named by its id.
    assert left.display_name == "BILLING cus_grace"
    await sync(store, synced)
    assert (await store.get_customers([grace.id]))[grace.id].display_name != "BILLING cus_grace"


# --- link ----------------------------------------------------------------------------------


async def test_link_moves_the_record_and_deletes_the_customer_it_leaves_empty(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    first = await customer_of(store, Source.CRM, "1004")
    duplicate = await customer_of(store, Source.CRM, "1005")

    linked = await decisions.link(
        decider(audit), first.id, Source.CRM, "1005", "one Katherine, two CRM contacts"
    )

    assert linked == first.id
    assert (await customer_of(store, Source.CRM, "1005")).id == first.id
    assert await store.get_customers([duplicate.id]) == {}
    assert set(await store.find_by_email("katherine.johnson@example.com")) == {first.id}


async def test_a_link_decision_is_respected_by_a_resync(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    ada = await customer_of(store, Source.CRM, "1001")
    await decisions.link(decider(audit), ada.id, Source.SUPPORT, "9003", "Ada's other account")

    await sync(store, synced)

    now = await customer_of(store, Source.SUPPORT, "9003")
    assert now.id == ada.id
    assert {link.external_id: link.matched_by for link in now.links} == {
        "1001": "anchor",
        "cus_ada": "xref",
        "9001": "xref",
        "9003": "manual",
    }


async def test_link_to_the_records_own_customer_confirms_it_as_a_persons_link(
    store: Store, synced: FakeSystems, decisions: IdentityDecisionService, audit: RecordingAudit
) -> None:
    grace = await customer_of(store, Source.CRM, "1002")

    await decisions.link(decider(audit), grace.id, Source.BILLING, "cus_grace", "checked")

    link = (await customer_of(store, Source.CRM, "1002")).link_for(Source.BILLING)
    assert link is not None
    assert (link.matched_by, link.confidence) == ("manual", 1.0)
    assert [entry.customer_id for entry in audit.entries] == [grace.id]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("customer", "source", "external_id", "reason", "message"),
    [
        ("ada", Source.SUPPORT, "9001", "   ", "reason is required"),
        ("ada", Source.SUPPORT, "9001", "x" * 501, "at most 500"),
        ("ada", Source.SUPPORT, "9999", "why", "unknown to the gateway"),
        ("ada", Source.SUPPORT, "9002", "why", "not linked to this customer"),
        ("nobody", Source.SUPPORT, "9001", "why", "not linked to this customer"),
        ("edsger", Source.CRM, "1006", "why", "only one"),
        ("ada", Source.IVR, "contact-1", "why", "IVR records"),
    ],
)
async def test_a_refused_unlink_changes_nothing(
    store: Store,
    synced: FakeSystems,
    decisions: IdentityDecisionService,
    audit: RecordingAudit,
    customer: str,
    source: Source,
    external_id: str,
    reason: str,
    message: str,
) -> None:
    ids = {
        "ada": (await customer_of(store, Source.CRM, "1001")).id,
        "edsger": (await customer_of(store, Source.CRM, "1006")).id,
        "nobody": CustomerId("cust_nobody"),
    }
    before = await snapshot(store)

    with pytest.raises(BadUserInput, match=message):
        await decisions.unlink(decider(audit), ids[customer], source, external_id, reason)

    assert await snapshot(store) == before
    assert audit.entries == []


@pytest.mark.parametrize(
    ("customer", "external_id", "message"),
    [
        ("cust_nobody", "9001", "no customer with this id"),
        (None, "9999", "unknown to the gateway"),
    ],
)
async def test_a_refused_link_changes_nothing(
    store: Store,
    synced: FakeSystems,
    decisions: IdentityDecisionService,
    audit: RecordingAudit,
    customer: str | None,
    external_id: str,
    message: str,
) -> None:
    target = CustomerId(customer) if customer else (await customer_of(store, Source.CRM, "1002")).id
    before = await snapshot(store)

    with pytest.raises(BadUserInput, match=message):
        await decisions.link(decider(audit), target, Source.SUPPORT, external_id, "why")

    assert await snapshot(store) == before
    assert audit.entries == []


class RecordingLinksChanged:
    def __init__(self) -> None:
        self.told: list[set[CustomerId]] = []

    async def __call__(self, customer_ids: Sequence[CustomerId]) -> None:
        self.told.append(set(customer_ids))


async def test_an_unlink_tells_the_read_model_about_both_customers(
    store: Store, synced: FakeSystems, audit: RecordingAudit
) -> None:
    changed = RecordingLinksChanged()
    decisions = IdentityDecisionService(store, links_changed=changed)
    grace = await customer_of(store, Source.CRM, "1002")

    await decisions.unlink(decider(audit), grace.id, Source.SUPPORT, "9002", "a different Grace")

    moved = await customer_of(store, Source.SUPPORT, "9002")
    assert changed.told == [{grace.id, moved.id}]


async def test_a_link_that_empties_a_customer_tells_only_the_one_left(
    store: Store, synced: FakeSystems, audit: RecordingAudit
) -> None:
    changed = RecordingLinksChanged()
    decisions = IdentityDecisionService(store, links_changed=changed)
    first = await customer_of(store, Source.CRM, "1004")

    await decisions.link(decider(audit), first.id, Source.CRM, "1005", "one Katherine")

    assert changed.told == [{first.id}]
