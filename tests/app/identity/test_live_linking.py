"""Live linking over fake systems and a real store: search, link, answer, remember misses."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from app.identity.linking_metrics import LinkingMetrics
from app.identity.live_linking import LiveLinking
from app.identity.settings import IdentitySettings
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from kernel.errors import UpstreamUnavailable
from kernel.identity import CustomerRecord
from kernel.linking import LiveAnswer
from kernel.models import Source
from resolvers.context import Sources
from tests.builders import billing_customer, crm_contact, support_user
from tests.fake_systems import named_customers
from tests.fakes import (
    FakeBillingAdapter,
    FakeCrmAdapter,
    FakeIvrAdapter,
    FakeSupportAdapter,
    ManualClock,
)

NEW_PHONE = "+14155550199"
NEW_EMAIL = "new.person@example.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def synced(store: Store) -> Sources:
    """The named customers, synced; the systems as Sources a request would carry."""
    systems = named_customers()
    await sync_identities(store, systems.by_source, IdentitySettings(), full=True)
    return Sources.from_adapters({**systems.by_source, Source.IVR: FakeIvrAdapter()})


def linker(store: Store, clock: ManualClock, **settings: object) -> LiveLinking:
    return LiveLinking(store, IdentitySettings.model_validate(settings), clock=clock)


def crm(sources: Sources) -> FakeCrmAdapter:
    adapter = sources.port(Source.CRM)
    assert isinstance(adapter, FakeCrmAdapter)
    return adapter


def billing(sources: Sources) -> FakeBillingAdapter:
    adapter = sources.port(Source.BILLING)
    assert isinstance(adapter, FakeBillingAdapter)
    return adapter


def support(sources: Sources) -> FakeSupportAdapter:
    adapter = sources.port(Source.SUPPORT)
    assert isinstance(adapter, FakeSupportAdapter)
    return adapter


def searches(sources: Sources) -> tuple[int, int, int]:
    return (
        crm(sources).calls["search_contacts"],
        billing(sources).calls["search_customers"],
        support(sources).calls["search_users"],
    )


async def only_customer(store: Store, answer: LiveAnswer) -> CustomerRecord:
    [customer_id] = answer.customer_ids
    return (await store.get_customers([customer_id]))[customer_id]


# --- found live ----------------------------------------------------------------------------


async def test_a_contact_created_after_the_sync_is_found_by_phone_and_linked(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    crm(synced).contacts["2001"] = crm_contact("2001", "Nia", "New", phone=NEW_PHONE)

    answer = await linker(store, clock).by_phone(NEW_PHONE, synced)

    customer = await only_customer(store, answer)
    assert customer.display_name == "Nia New"
    [link] = customer.links
    assert (link.source, link.external_id, link.matched_by, link.linked_via) == (
        Source.CRM,
        "2001",
        "anchor",
        "live",
    )
    assert await store.find_by_phone(NEW_PHONE) == [customer.id]


async def test_records_found_together_are_linked_to_one_customer_by_the_rules(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    crm(synced).contacts["2001"] = crm_contact(
        "2001", "Nia", "New", email=NEW_EMAIL, billing_id="cus_new"
    )
    billing(synced).customers["cus_new"] = billing_customer("cus_new", "N New", email=NEW_EMAIL)
    support(synced).users["9901"] = support_user("9901", "Nia", email=NEW_EMAIL.upper())

    customer = await only_customer(store, await linker(store, clock).by_email(NEW_EMAIL, synced))

    assert {link.source: link.matched_by for link in customer.links} == {
        Source.CRM: "anchor",
        Source.BILLING: "xref",
        Source.SUPPORT: "email",
    }


async def test_a_new_billing_record_joins_its_existing_customer(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    edsger = await store.find_by_source_id(Source.CRM, "1006")
    billing(synced).customers["cus_edsger"] = billing_customer(
        "cus_edsger", "E. W. Dijkstra", email="edsger.dijkstra@example.com"
    )

    answer = await linker(store, clock).by_source_id(Source.BILLING, "cus_edsger", synced)

    assert answer.customer_ids == (edsger,)
    assert await store.find_by_source_id(Source.BILLING, "cus_edsger") == edsger


async def test_a_new_support_user_joins_the_crm_contact_it_names(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    grace = await store.find_by_source_id(Source.CRM, "1002")
    support(synced).users["9902"] = support_user("9902", "G", external_id="1002")

    answer = await linker(store, clock).by_source_id(Source.SUPPORT, "9902", synced)

    assert answer.customer_ids == (grace,)


# --- misses --------------------------------------------------------------------------------


async def test_a_miss_is_not_searched_again_within_its_window(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock, live_miss_ttl_seconds=60)

    first = await live.by_phone(NEW_PHONE, synced)
    clock.now += 59
    second = await live.by_phone(NEW_PHONE, synced)

    assert first == second == LiveAnswer()
    assert searches(synced) == (1, 1, 1)


async def test_a_miss_is_searched_again_once_its_window_has_passed(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock, live_miss_ttl_seconds=60)
    await live.by_phone(NEW_PHONE, synced)
    crm(synced).contacts["2001"] = crm_contact("2001", "Nia", "New", phone=NEW_PHONE)
    clock.now += 61

    answer = await live.by_phone(NEW_PHONE, synced)

    assert len(answer.customer_ids) == 1
    assert searches(synced) == (2, 2, 2)


async def test_concurrent_lookups_of_one_key_share_one_search(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock)

    answers = await asyncio.gather(*(live.by_email(NEW_EMAIL, synced) for _ in range(5)))

    assert set(answers) == {LiveAnswer()}
    assert searches(synced) == (1, 1, 1)


async def test_a_miss_of_one_key_does_not_hide_another(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock)
    await live.by_email(NEW_EMAIL, synced)

    await live.by_email("someone.else@example.com", synced)

    assert searches(synced) == (2, 2, 2)


# --- failing systems -----------------------------------------------------------------------


async def test_a_failing_system_leaves_its_part_out_and_the_rest_is_answered(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    crm(synced).contacts["2001"] = crm_contact("2001", "Nia", "New", email=NEW_EMAIL)
    support(synced).errors["search_users"] = UpstreamUnavailable(Source.SUPPORT, "down")

    answer = await linker(store, clock).by_email(NEW_EMAIL, synced)

    assert len(answer.customer_ids) == 1
    assert answer.failed_sources == (Source.SUPPORT,)


async def test_nothing_found_with_a_failing_system_is_not_remembered_as_a_miss(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock)
    billing(synced).errors["search_customers"] = UpstreamUnavailable(Source.BILLING, "down")

    first = await live.by_phone(NEW_PHONE, synced)
    second = await live.by_phone(NEW_PHONE, synced)

    assert first == second == LiveAnswer((), (Source.BILLING,))
    assert searches(synced) == (2, 2, 2)


async def test_a_record_fetch_that_fails_reports_its_system(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    crm(synced).errors["get_contacts"] = UpstreamUnavailable(Source.CRM, "down")

    answer = await linker(store, clock).by_source_id(Source.CRM, "2001", synced)

    assert answer == LiveAnswer((), (Source.CRM,))


async def test_an_unknown_billing_id_is_a_miss(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    live = linker(store, clock)

    await live.by_source_id(Source.BILLING, "cus_nobody", synced)
    answer = await live.by_source_id(Source.BILLING, "cus_nobody", synced)

    assert answer == LiveAnswer()
    assert billing(synced).calls["get_customer"] == 1


# --- decisions -----------------------------------------------------------------------------


async def test_a_live_link_respects_an_unlink_decision(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    edsger = await store.find_by_source_id(Source.CRM, "1006")
    await store.pool.execute(
        "insert into identity_decisions (decision, source, external_id, customer_id, reason, "
        "decided_by) values ('unlink', 'BILLING', 'cus_edsger', $1, 'another Edsger', 'sup-1')",
        edsger,
    )
    billing(synced).customers["cus_edsger"] = billing_customer(
        "cus_edsger", "Edsger D", email="edsger.dijkstra@example.com"
    )

    answer = await linker(store, clock).by_source_id(Source.BILLING, "cus_edsger", synced)

    assert len(answer.customer_ids) == 1
    assert answer.customer_ids != (edsger,)


async def test_live_lookups_are_counted_by_kind_and_outcome(
    store: Store, synced: Sources, clock: ManualClock
) -> None:
    registry = CollectorRegistry()
    live = LiveLinking(
        store, IdentitySettings(), metrics=LinkingMetrics.create(registry), clock=clock
    )
    crm(synced).contacts["2001"] = crm_contact("2001", "Nia", "New", email=NEW_EMAIL)

    await live.by_email(NEW_EMAIL, synced)
    await live.by_phone(NEW_PHONE, synced)
    await live.by_phone(NEW_PHONE, synced)

    def count(kind: str, outcome: str) -> float | None:
        return registry.get_sample_value(
            "scv_identity_live_lookups_total", {"kind": kind, "outcome": outcome}
        )

    assert (count("email", "found"), count("phone", "miss"), count("phone", "remembered_miss")) == (
        1.0,
        1.0,
        1.0,
    )
