"""HttpBillingAdapter's combined read: the customer and their subscriptions in one call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from kernel.errors import UpstreamContractError, UpstreamNotFound
from kernel.models import BillingCustomerId, SubscriptionStatus
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import (
    stripe_customer,
    stripe_error,
    stripe_list,
    stripe_subscription,
)

ADA = BillingCustomerId("cus_ada")


@asynccontextmanager
async def billing(upstream: FakeUpstream) -> AsyncIterator[HttpBillingAdapter]:
    config = BillingSettings(base_url="https://billing.test")
    async with client_for(config, billing_auth_headers(config), upstream) as client:
        yield HttpBillingAdapter(config, client, clock=lambda: NOW)


async def test_one_call_brings_the_customer_and_every_subscription() -> None:
    subscriptions = [
        stripe_subscription("sub_1", customer=stripe_customer(balance=-2550)),
        stripe_subscription("sub_2", status="canceled", customer=stripe_customer(balance=-2550)),
    ]
    upstream = FakeUpstream.answering(json_response(stripe_list(subscriptions)))
    async with billing(upstream) as adapter:
        customer, found = await adapter.get_customer_with_subscriptions(ADA)
    request = upstream.request
    assert request.url.path == "/v1/subscriptions"
    assert upstream.params() == {
        "customer": "cus_ada",
        "status": "all",
        "limit": "100",
        "expand[]": "data.customer",
    }
    assert customer.id == "cus_ada"
    assert customer.balance.amount == -25.5
    assert [s.id for s in found.items] == ["sub_1", "sub_2"]
    assert found.items[1].status is SubscriptionStatus.CANCELED


async def test_a_customer_without_subscriptions_is_read_on_its_own() -> None:
    upstream = FakeUpstream.answering(
        json_response(stripe_list([])), json_response(stripe_customer())
    )
    async with billing(upstream) as adapter:
        customer, found = await adapter.get_customer_with_subscriptions(ADA)
    assert [r.url.path for r in upstream.requests] == ["/v1/subscriptions", "/v1/customers/cus_ada"]
    assert customer.id == "cus_ada"
    assert found.items == ()


async def test_an_unknown_customer_is_not_found() -> None:
    missing = stripe_error("invalid_request_error", "resource_missing")
    upstream = FakeUpstream.answering(
        json_response(stripe_list([])), json_response(missing, status=404)
    )
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer_with_subscriptions(ADA)


async def test_more_than_a_page_is_paged_without_the_customer() -> None:
    upstream = FakeUpstream.answering(
        json_response(
            stripe_list([stripe_subscription("sub_1", customer=stripe_customer())], has_more=True)
        ),
        json_response(stripe_list([stripe_subscription("sub_2")])),
    )
    async with billing(upstream) as adapter:
        _, found = await adapter.get_customer_with_subscriptions(ADA)
    assert [s.id for s in found.items] == ["sub_1", "sub_2"]
    assert upstream.params(1)["starting_after"] == "sub_1"
    assert "expand[]" not in upstream.params(1)


async def test_a_subscription_of_another_customer_is_a_contract_error() -> None:
    other = stripe_subscription("sub_1", customer=stripe_customer("cus_other"))
    upstream = FakeUpstream.answering(json_response(stripe_list([other])))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.get_customer_with_subscriptions(ADA)
