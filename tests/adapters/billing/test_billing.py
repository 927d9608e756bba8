"""HttpBillingAdapter against Stripe-shaped answers."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.billing.client import HttpBillingAdapter, billing_auth_headers, stripe_search_query
from adapters.billing.settings import BillingSettings
from adapters.billing.wire import StripeList, StripeSearchResult, to_money
from kernel.errors import UpstreamContractError, UpstreamNotFound, UpstreamRejected
from kernel.models import (
    Address,
    BillingCustomerId,
    InvoiceStatus,
    Money,
    PaymentCard,
    SubscriptionStatus,
)
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import (
    JAN_2024,
    stripe_card,
    stripe_customer,
    stripe_error,
    stripe_invoice,
    stripe_list,
    stripe_price,
    stripe_search_result,
    stripe_subscription,
)

ADA = BillingCustomerId("cus_ada")


@asynccontextmanager
async def billing(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpBillingAdapter]:
    config = BillingSettings(base_url="https://billing.test", **settings)
    async with client_for(config, billing_auth_headers(config), upstream) as client:
        yield HttpBillingAdapter(config, client, clock=lambda: NOW)


async def one_customer(**fields: Any) -> Any:
    upstream = FakeUpstream.answering(json_response(stripe_customer(**fields)))
    async with billing(upstream) as adapter:
        return await adapter.get_customer(ADA)


async def one_subscription(**kwargs: Any) -> Any:
    upstream = FakeUpstream.answering(json_response(stripe_list([stripe_subscription(**kwargs)])))
    async with billing(upstream) as adapter:
        return (await adapter.list_subscriptions(ADA)).items[0]


# --- money --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [
        (1500, "gbp", Money(amount=Decimal("15.00"), currency="GBP")),
        (1500, "jpy", Money(amount=Decimal("1500"), currency="JPY")),
        (5120, "kwd", Money(amount=Decimal("5.120"), currency="KWD")),
        (-250, "usd", Money(amount=Decimal("-2.50"), currency="USD")),
    ],
)
def test_minor_units_become_exact_major_units(minor: int, currency: str, expected: Money) -> None:
    assert to_money(minor, currency) == expected


async def test_customer_balance_in_gbp_is_in_pounds() -> None:
    customer = await one_customer(balance=-2550, currency="gbp")
    assert customer.balance == Money(amount=Decimal("-25.50"), currency="GBP")


async def test_customer_balance_in_jpy_has_no_minor_unit() -> None:
    customer = await one_customer(balance=3000, currency="jpy")
    assert customer.balance == Money(amount=Decimal("3000"), currency="JPY")


async def test_customer_without_currency_has_balance_in_no_currency() -> None:
    customer = await one_customer(balance=0, currency=None)
    assert customer.balance == Money(amount=Decimal("0"), currency="XXX")


# --- customers ----------------------------------------------------------------------------


async def test_requests_carry_the_bearer_secret_key() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_customer()))
    async with billing(upstream, api_key="sk_test_123") as adapter:
        await adapter.get_customer(ADA)
    assert upstream.request.headers["Authorization"] == "Bearer sk_test_123"


async def test_get_customer_reads_the_customer_by_id() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_customer()))
    async with billing(upstream) as adapter:
        customer = await adapter.get_customer(ADA)
    assert upstream.request.url.path == "/v1/customers/cus_ada"
    assert (customer.id, customer.email) == ("cus_ada", "ada.lovelace@example.com")


async def test_customer_created_is_a_utc_datetime() -> None:
    customer = await one_customer(created=JAN_2024)
    assert customer.created_at == datetime(2024, 1, 1, tzinfo=UTC)


async def test_customer_fetched_at_comes_from_the_clock() -> None:
    assert (await one_customer()).fetched_at == NOW


async def test_customer_address_state_becomes_region() -> None:
    address = {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701"}
    customer = await one_customer(address=address)
    assert customer.address == Address(
        line1="1 Main St", city="Austin", region="TX", postal_code="78701"
    )


async def test_customer_address_of_only_blanks_is_none() -> None:
    customer = await one_customer(address={"line1": "", "city": None, "country": ""})
    assert customer.address is None


async def test_customer_delinquent_null_is_not_delinquent() -> None:
    assert (await one_customer(delinquent=None)).delinquent is False


async def test_unknown_customer_is_not_found_with_stripe_code() -> None:
    body = stripe_error("invalid_request_error", "resource_missing", "No such customer: 'x'")
    upstream = FakeUpstream.answering(json_response(body, status=404))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamNotFound) as caught:
            await adapter.get_customer(BillingCustomerId("x"))
    assert caught.value.message == "answered HTTP 404 (resource_missing)"


async def test_wrong_key_is_rejected_with_stripe_type() -> None:
    body = stripe_error("invalid_request_error", None, "Invalid API Key provided: sk_***")
    upstream = FakeUpstream.answering(json_response(body, status=401))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamRejected) as caught:
            await adapter.get_customer(ADA)
    assert caught.value.message == "answered HTTP 401 (invalid_request_error)"


async def test_deleted_customer_is_not_found() -> None:
    stub = {"id": "cus_ada", "object": "customer", "deleted": True}
    upstream = FakeUpstream.answering(json_response(stub))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamNotFound):
            await adapter.get_customer(ADA)


async def test_customer_missing_created_is_a_contract_error() -> None:
    payload = stripe_customer()
    del payload["created"]
    upstream = FakeUpstream.answering(json_response(payload))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamContractError) as caught:
            await adapter.get_customer(ADA)
    assert caught.value.message == "customer payload failed validation"


# --- subscriptions ------------------------------------------------------------------------


async def test_list_subscriptions_asks_for_every_status_of_the_customer() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_list([])))
    async with billing(upstream) as adapter:
        await adapter.list_subscriptions(ADA)
    assert upstream.params() == {"customer": "cus_ada", "status": "all", "limit": "100"}


async def test_list_subscriptions_follows_has_more_with_starting_after() -> None:
    upstream = FakeUpstream.answering(
        json_response(stripe_list([stripe_subscription("sub_1")], has_more=True)),
        json_response(stripe_list([stripe_subscription("sub_2")], has_more=False)),
    )
    async with billing(upstream) as adapter:
        subscriptions = await adapter.list_subscriptions(ADA)
    assert [s.id for s in subscriptions.items] == ["sub_1", "sub_2"]
    assert "starting_after" not in upstream.params(0)
    assert upstream.params(1)["starting_after"] == "sub_1"


async def test_has_more_without_data_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_list([], has_more=True)))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.list_subscriptions(ADA)


async def test_subscription_amount_is_unit_amount_times_quantity() -> None:
    subscription = await one_subscription(price=stripe_price(unit_amount=1500), quantity=3)
    assert subscription.amount == Money(amount=Decimal("45.00"), currency="GBP")


async def test_subscription_plan_and_interval_come_from_the_price() -> None:
    subscription = await one_subscription(
        price=stripe_price(nickname="Team", recurring={"interval": "year"})
    )
    assert (subscription.plan_name, subscription.interval) == ("Team", "year")


async def test_subscription_status_maps_through_the_taxonomy() -> None:
    subscription = await one_subscription(status="incomplete_expired")
    assert subscription.status is SubscriptionStatus.CANCELED
    assert subscription.source_status == "incomplete_expired"


async def test_unmapped_subscription_status_is_unknown_and_counted() -> None:
    upstream = FakeUpstream.answering(
        json_response(stripe_list([stripe_subscription(status="frozen")]))
    )
    async with billing(upstream) as adapter:
        subscriptions = await adapter.list_subscriptions(ADA)
    assert subscriptions.items[0].status is SubscriptionStatus.UNKNOWN
    assert adapter.subscription_status.unmapped["frozen"] == 1


async def test_subscription_period_end_falls_back_to_the_item() -> None:
    payload = stripe_subscription(current_period_end=None)
    payload["items"]["data"][0]["current_period_end"] = JAN_2024
    upstream = FakeUpstream.answering(json_response(stripe_list([payload])))
    async with billing(upstream) as adapter:
        subscriptions = await adapter.list_subscriptions(ADA)
    assert subscriptions.items[0].current_period_end == datetime(2024, 1, 1, tzinfo=UTC)


async def test_subscription_without_items_is_a_contract_error() -> None:
    payload = stripe_subscription()
    payload["items"]["data"] = []
    upstream = FakeUpstream.answering(json_response(stripe_list([payload])))
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.list_subscriptions(ADA)


# --- invoices and cards -------------------------------------------------------------------


async def test_list_invoices_asks_for_one_page_of_limit() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_list([stripe_invoice()], has_more=True)))
    async with billing(upstream) as adapter:
        invoices = await adapter.list_invoices(ADA, limit=5)
    assert upstream.request.url.path == "/v1/invoices"
    assert upstream.params() == {"customer": "cus_ada", "limit": "5"}
    assert len(invoices.items) == 1


async def test_invoice_amounts_dates_and_status() -> None:
    payload = stripe_invoice(
        status="open",
        amount_due=1999,
        amount_paid=0,
        amount_remaining=1999,
        due_date=JAN_2024,
        status_transitions={"paid_at": None},
    )
    upstream = FakeUpstream.answering(json_response(stripe_list([payload])))
    async with billing(upstream) as adapter:
        invoice = (await adapter.list_invoices(ADA, limit=1)).items[0]
    assert invoice.status is InvoiceStatus.OPEN
    assert invoice.amount_remaining == Money(amount=Decimal("19.99"), currency="GBP")
    assert invoice.due_date == datetime(2024, 1, 1, tzinfo=UTC)
    assert invoice.paid_at is None


async def test_unmapped_invoice_status_is_unknown_and_counted() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_list([stripe_invoice(status="x")])))
    async with billing(upstream) as adapter:
        invoice = (await adapter.list_invoices(ADA, limit=1)).items[0]
    assert invoice.status is InvoiceStatus.UNKNOWN
    assert adapter.invoice_status.unmapped["x"] == 1


@pytest.mark.parametrize("limit", [0, 101])
async def test_list_invoices_refuses_a_limit_out_of_range(limit: int) -> None:
    async with billing(FakeUpstream.answering()) as adapter:
        with pytest.raises(ValueError, match="limit"):
            await adapter.list_invoices(ADA, limit=limit)


async def test_list_payment_cards_asks_for_cards_and_keeps_only_card_facts() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_list([stripe_card(brand="amex")])))
    async with billing(upstream) as adapter:
        cards = await adapter.list_payment_cards(ADA)
    assert upstream.params()["type"] == "card"
    assert cards.items == (
        PaymentCard(id="pm_ada_visa", brand="amex", last4="4242", exp_month=12, exp_year=2030),
    )


# --- search and sync ----------------------------------------------------------------------


def test_search_query_joins_email_and_phone_with_or() -> None:
    query = stripe_search_query(email="ada@example.com", phone="+442079460018")
    assert query == "email:'ada@example.com' OR phone:'+442079460018'"


def test_search_query_escapes_single_quotes() -> None:
    assert stripe_search_query(email="o'brien@example.com") == "email:'o\\'brien@example.com'"


def test_search_query_escapes_backslashes_before_quotes() -> None:
    assert stripe_search_query(phone="1\\' OR created>0") == "phone:'1\\\\\\' OR created>0'"


async def test_search_customers_sends_the_query() -> None:
    upstream = FakeUpstream.answering(json_response(stripe_search_result([stripe_customer()])))
    async with billing(upstream) as adapter:
        found = await adapter.search_customers(email="o'brien@example.com")
    assert upstream.request.url.path == "/v1/customers/search"
    assert upstream.params()["query"] == "email:'o\\'brien@example.com'"
    assert [c.id for c in found] == ["cus_ada"]


async def test_search_customers_without_keys_makes_no_request() -> None:
    upstream = FakeUpstream.answering()
    async with billing(upstream) as adapter:
        assert await adapter.search_customers() == []
    assert upstream.requests == []


async def test_search_customers_follows_next_page() -> None:
    upstream = FakeUpstream.answering(
        json_response(stripe_search_result([stripe_customer("cus_1")], next_page="page_2")),
        json_response(stripe_search_result([stripe_customer("cus_2")])),
    )
    async with billing(upstream) as adapter:
        found = await adapter.search_customers(phone="+14155550101")
    assert [c.id for c in found] == ["cus_1", "cus_2"]
    assert upstream.params(1)["page"] == "page_2"


async def test_iter_customers_pages_with_page_size_and_starting_after() -> None:
    upstream = FakeUpstream.answering(
        json_response(
            stripe_list([stripe_customer("cus_1"), stripe_customer("cus_2")], has_more=True)
        ),
        json_response(stripe_list([stripe_customer("cus_3")])),
    )
    async with billing(upstream, page_size=2) as adapter:
        pages = [[c.id for c in page] async for page in adapter.iter_customers()]
    assert pages == [["cus_1", "cus_2"], ["cus_3"]]
    assert upstream.params(0) == {"limit": "2"}
    assert upstream.params(1) == {"limit": "2", "starting_after": "cus_2"}


async def test_search_repeating_its_next_page_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(
        *(
            json_response(stripe_search_result([stripe_customer()], next_page="same"))
            for _ in range(2)
        )
    )
    async with billing(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.search_customers(email="ada.lovelace@example.com")


# --- cost per call ------------------------------------------------------------------------


async def test_reading_lists_builds_no_model_class_per_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pydantic holds parametrised generics weakly: a ``StripeList[...]`` written at the call
    site was a new class (schema, validator) on most calls once the collector ran."""
    built: list[str] = []

    def record(cls: type[Any], **kwargs: Any) -> None:
        built.append(cls.__name__)

    for generic in (StripeList, StripeSearchResult):
        monkeypatch.setattr(generic, "__pydantic_init_subclass__", classmethod(record))
    for _ in range(2):
        gc.collect()
        upstream = FakeUpstream.answering(
            json_response(stripe_list([stripe_subscription()])),
            json_response(stripe_list([stripe_invoice()])),
            json_response(stripe_list([stripe_card()])),
            json_response(stripe_search_result([stripe_customer()])),
        )
        async with billing(upstream) as adapter:
            await adapter.list_subscriptions(ADA)
            await adapter.list_invoices(ADA, limit=5)
            await adapter.list_payment_cards(ADA)
            await adapter.search_customers(email="ada@example.com")

    assert built == []
