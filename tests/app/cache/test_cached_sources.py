"""The cached adapters: the same Protocols, panel reads cached, searches and sync passed on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from adapters.billing.cached import CachedBillingAdapter
from adapters.crm.cached import CachedCrmAdapter
from adapters.support.cached import CachedSupportAdapter
from app.cache.metrics import CacheMetrics
from app.cache.response_cache import ResponseCache
from app.cache.settings import CacheSettings
from app.cache.sources import cached_adapters
from kernel.models import (
    BillingCustomerId,
    CacheState,
    CrmContactId,
    Source,
    SupportUserId,
)
from resolvers.context import Sources
from tests.fake_systems import FakeSystems, named_customers

ADA_BILLING = BillingCustomerId("cus_ada")
ADA_CRM, GRACE_CRM, ALAN_CRM = CrmContactId("1001"), CrmContactId("1002"), CrmContactId("1003")


@pytest.fixture
async def cache() -> AsyncIterator[ResponseCache]:
    cache = await ResponseCache.open(CacheSettings(), CacheMetrics.create(CollectorRegistry()))
    yield cache
    await cache.close()


@pytest.fixture
def systems() -> FakeSystems:
    return named_customers()


@pytest.fixture
def billing(systems: FakeSystems, cache: ResponseCache) -> CachedBillingAdapter:
    return CachedBillingAdapter(systems.billing, cache)


@pytest.fixture
def crm(systems: FakeSystems, cache: ResponseCache) -> CachedCrmAdapter:
    return CachedCrmAdapter(systems.crm, cache)


@pytest.fixture
def support(systems: FakeSystems, cache: ResponseCache) -> CachedSupportAdapter:
    return CachedSupportAdapter(systems.support, cache)


async def test_each_billing_read_is_fetched_once_then_a_hit(
    billing: CachedBillingAdapter, systems: FakeSystems
) -> None:
    for _ in range(2):
        customer = await billing.get_customer(ADA_BILLING)
        subscriptions = await billing.list_subscriptions(ADA_BILLING)
        invoices = await billing.list_invoices(ADA_BILLING, 3)
        cards = await billing.list_payment_cards(ADA_BILLING)
    states = {r.cache_state for r in (customer, subscriptions, invoices, cards)}
    assert states == {CacheState.HIT}
    assert systems.billing.calls == {
        "get_customer": 1,
        "list_subscriptions": 1,
        "list_invoices": 1,
        "list_payment_cards": 1,
    }


async def test_the_combined_read_fills_both_entries_with_one_call(
    billing: CachedBillingAdapter, systems: FakeSystems
) -> None:
    customer, subscriptions = await billing.get_customer_with_subscriptions(ADA_BILLING)
    assert (customer.cache_state, subscriptions.cache_state) == (CacheState.MISS,) * 2
    # Each entry is the one its own read finds: no other call to billing.
    assert (await billing.get_customer(ADA_BILLING)).cache_state is CacheState.HIT
    assert (await billing.list_subscriptions(ADA_BILLING)).cache_state is CacheState.HIT
    assert systems.billing.calls == {"get_customer_with_subscriptions": 1}


async def test_the_combined_read_asks_nothing_while_both_entries_are_fresh(
    billing: CachedBillingAdapter, systems: FakeSystems
) -> None:
    await billing.get_customer(ADA_BILLING)
    await billing.list_subscriptions(ADA_BILLING)
    customer, subscriptions = await billing.get_customer_with_subscriptions(ADA_BILLING)
    assert (customer.cache_state, subscriptions.cache_state) == (CacheState.HIT,) * 2
    assert "get_customer_with_subscriptions" not in systems.billing.calls


async def test_invoice_lists_of_different_lengths_are_cached_apart(
    billing: CachedBillingAdapter, systems: FakeSystems
) -> None:
    three = await billing.list_invoices(ADA_BILLING, 3)
    ten = await billing.list_invoices(ADA_BILLING, 10)
    assert (len(three.items), len(ten.items)) == (3, 10)
    assert systems.billing.calls["list_invoices"] == 2


async def test_billing_searches_and_the_sync_listing_go_to_the_system_every_time(
    billing: CachedBillingAdapter, systems: FakeSystems
) -> None:
    for _ in range(2):
        await billing.search_customers(email="ada.lovelace@example.com")
        [page async for page in billing.iter_customers()]
    assert systems.billing.calls["search_customers"] == 2
    assert systems.billing.calls["iter_customers"] == 2


async def test_crm_contacts_are_cached_per_id_and_only_the_missing_ones_are_asked_for(
    crm: CachedCrmAdapter, systems: FakeSystems
) -> None:
    await crm.get_contacts([ADA_CRM, GRACE_CRM])
    found = await crm.get_contacts([ADA_CRM, GRACE_CRM, ALAN_CRM])
    assert [call.args for call in systems.crm.call_log] == [
        ((ADA_CRM, GRACE_CRM),),
        ((ALAN_CRM,),),
    ]
    assert {contact_id: c.cache_state for contact_id, c in found.items()} == {
        ADA_CRM: CacheState.HIT,
        GRACE_CRM: CacheState.HIT,
        ALAN_CRM: CacheState.MISS,
    }


async def test_crm_ids_it_does_not_know_are_absent_and_not_asked_again(
    crm: CachedCrmAdapter, systems: FakeSystems
) -> None:
    unknown = CrmContactId("9999")
    first = await crm.get_contacts([ADA_CRM, unknown])
    second = await crm.get_contacts([ADA_CRM, unknown])
    assert set(first) == set(second) == {ADA_CRM}
    assert systems.crm.calls["get_contacts"] == 1


async def test_a_crm_batch_fully_cached_makes_no_call(
    crm: CachedCrmAdapter, systems: FakeSystems
) -> None:
    await crm.get_contacts([ADA_CRM])
    await crm.get_contacts([ADA_CRM])
    assert systems.crm.calls["get_contacts"] == 1


async def test_an_invalidated_crm_contact_is_read_again(
    crm: CachedCrmAdapter, systems: FakeSystems, cache: ResponseCache
) -> None:
    await crm.get_contacts([ADA_CRM, GRACE_CRM])
    await cache.invalidate_record(Source.CRM, ADA_CRM)
    await crm.get_contacts([ADA_CRM, GRACE_CRM])
    assert systems.crm.call_log[-1].args == ((ADA_CRM,),)


async def test_support_tickets_are_cached_and_users_are_not(
    support: CachedSupportAdapter, systems: FakeSystems
) -> None:
    for _ in range(2):
        tickets = await support.list_requested_tickets(SupportUserId("9001"))
        await support.get_users([SupportUserId("9001")])
    assert tickets.cache_state is CacheState.HIT
    assert systems.support.calls == {"list_requested_tickets": 1, "get_users": 2}


def test_the_ivr_is_not_wrapped(systems: FakeSystems, cache: ResponseCache) -> None:
    adapters = {
        Source.BILLING: systems.billing,
        Source.CRM: systems.crm,
        Source.SUPPORT: systems.support,
        Source.IVR: systems.ivr,
    }

    wrapped = Sources.from_adapters(cached_adapters(adapters, cache))

    assert wrapped.ivr is systems.ivr
    assert isinstance(wrapped.billing, CachedBillingAdapter)
    assert isinstance(wrapped.crm, CachedCrmAdapter)
    assert isinstance(wrapped.support, CachedSupportAdapter)
