"""The billing system (Stripe-shaped): named customers, lists, search, errors, OpenAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from sandbox.records import REFERENCE_TIME, Dataset


async def collect(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every object of a Stripe list, following ``starting_after`` to the end."""
    objects: list[dict[str, Any]] = []
    query = {"limit": 100, **params}
    while True:
        response = await client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        objects.extend(body["data"])
        if not body["has_more"]:
            return objects
        query["starting_after"] = body["data"][-1]["id"]


# --- named customers --------------------------------------------------------------------


async def test_ada_is_a_gbp_customer_with_her_contact_details(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/v1/customers/cus_ada")

    assert response.status_code == 200
    customer = response.json()
    assert customer["object"] == "customer"
    assert customer["name"] == "Ada Lovelace"
    assert customer["email"] == "ada.lovelace@example.com"
    assert customer["phone"] == "+44 20 7946 0018"
    assert customer["currency"] == "gbp"
    assert customer["delinquent"] is False
    assert customer["address"]["country"] == "GB"


async def test_ada_has_one_active_subscription(billing: httpx.AsyncClient) -> None:
    subscriptions = await collect(billing, "/v1/subscriptions", customer="cus_ada", status="all")

    assert [(s["id"], s["status"]) for s in subscriptions] == [("sub_ada", "active")]
    price = subscriptions[0]["items"]["data"][0]["price"]
    assert price == {
        "id": "price_pro_monthly_gbp",
        "nickname": "Pro",
        "unit_amount": 1500,
        "currency": "gbp",
        "recurring": {"interval": "month"},
    }


async def test_ada_has_twelve_paid_invoices_newest_first(billing: httpx.AsyncClient) -> None:
    invoices = await collect(billing, "/v1/invoices", customer="cus_ada")

    assert [i["number"] for i in invoices] == [f"ADA-{n:04d}" for n in range(12, 0, -1)]
    assert {i["status"] for i in invoices} == {"paid"}
    assert all(i["amount_remaining"] == 0 and i["amount_paid"] == 1500 for i in invoices)
    assert all(i["status_transitions"]["paid_at"] is not None for i in invoices)


async def test_ada_has_a_visa_card(billing: httpx.AsyncClient) -> None:
    cards = await collect(billing, "/v1/payment_methods", customer="cus_ada", type="card")

    assert [c["card"] for c in cards] == [
        {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}
    ]


async def test_barbara_is_delinquent_with_a_past_due_subscription(
    billing: httpx.AsyncClient,
) -> None:
    customer = (await billing.get("/v1/customers/cus_barbara")).json()
    subscriptions = await collect(billing, "/v1/subscriptions", customer="cus_barbara")

    assert customer["delinquent"] is True
    assert [s["status"] for s in subscriptions] == ["past_due"]


async def test_barbara_has_two_open_overdue_invoices(billing: httpx.AsyncClient) -> None:
    invoices = await collect(billing, "/v1/invoices", customer="cus_barbara", status="open")

    assert len(invoices) == 2
    assert all(i["due_date"] < REFERENCE_TIME for i in invoices)
    assert all(i["amount_remaining"] == i["amount_due"] > 0 for i in invoices)


async def test_grace_has_an_e164_phone_in_billing(billing: httpx.AsyncClient) -> None:
    customer = (await billing.get("/v1/customers/cus_grace")).json()

    assert customer["phone"] == "+14155550101"
    assert customer["email"] == "grace.hopper@example.com"


async def test_alan_has_an_upper_case_email_in_billing(billing: httpx.AsyncClient) -> None:
    customer = (await billing.get("/v1/customers/cus_alan")).json()

    assert customer["email"] == "ALAN.TURING@EXAMPLE.COM"


async def test_katherine_is_in_billing(billing: httpx.AsyncClient) -> None:
    customer = (await billing.get("/v1/customers/cus_katherine")).json()

    assert customer["email"] == "katherine.johnson@example.com"


async def test_edsger_is_not_in_billing(billing: httpx.AsyncClient) -> None:
    found = await billing.get(
        "/v1/customers/search", params={"query": "email:'edsger.dijkstra@example.com'"}
    )

    assert found.json()["data"] == []


# --- lists and pagination ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/v1/customers", "customers"),
        ("/v1/invoices", "invoices"),
        ("/v1/payment_methods", "payment_methods"),
    ],
)
async def test_pages_cover_every_object_once_newest_first(
    billing: httpx.AsyncClient, dataset: Dataset, path: str, table: str
) -> None:
    objects = await collect(billing, path)

    ids = [o["id"] for o in objects]
    assert sorted(ids) == sorted(getattr(dataset.billing, table).rows)
    keys = [(o["created"], o["id"]) for o in objects]
    assert keys == sorted(keys, reverse=True)


async def test_subscription_pages_with_status_all_cover_every_subscription_once(
    billing: httpx.AsyncClient, dataset: Dataset
) -> None:
    subscriptions = await collect(billing, "/v1/subscriptions", status="all")

    assert sorted(s["id"] for s in subscriptions) == sorted(dataset.billing.subscriptions.rows)


async def test_subscriptions_leave_out_canceled_ones_by_default(
    billing: httpx.AsyncClient, dataset: Dataset
) -> None:
    subscriptions = await collect(billing, "/v1/subscriptions")

    expected = [s.id for s in dataset.billing.subscriptions if s.status != "canceled"]
    assert sorted(s["id"] for s in subscriptions) == sorted(expected)
    assert any(s.status == "canceled" for s in dataset.billing.subscriptions)


async def test_subscriptions_listed_with_their_customer_expanded(
    billing: httpx.AsyncClient,
) -> None:
    params = {"customer": "cus_ada", "status": "all", "expand[]": "data.customer"}
    response = await billing.get("/v1/subscriptions", params=params)
    plain = await billing.get("/v1/customers/cus_ada")

    assert response.status_code == 200
    data = response.json()["data"]
    assert data
    assert all(s["customer"] == plain.json() for s in data)


async def test_a_property_that_cannot_be_expanded_is_refused(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/v1/subscriptions", params={"expand[]": "data.invoices"})

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "expand"


async def test_list_filters_customers_by_exact_email(billing: httpx.AsyncClient) -> None:
    exact = await collect(billing, "/v1/customers", email="ALAN.TURING@EXAMPLE.COM")
    other_case = await collect(billing, "/v1/customers", email="alan.turing@example.com")

    assert [c["id"] for c in exact] == ["cus_alan"]
    assert other_case == []


async def test_list_of_an_unknown_customer_is_empty(billing: httpx.AsyncClient) -> None:
    invoices = await collect(billing, "/v1/invoices", customer="cus_nobody")

    assert invoices == []


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_limit_out_of_range_is_refused(billing: httpx.AsyncClient, limit: str) -> None:
    response = await billing.get("/v1/customers", params={"limit": limit})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == "limit"


async def test_starting_after_an_unknown_id_is_refused(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/v1/customers", params={"starting_after": "cus_nobody"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "resource_missing"
    assert response.json()["error"]["param"] == "starting_after"


# --- search ------------------------------------------------------------------------------


async def search(billing: httpx.AsyncClient, query: str, **params: Any) -> list[str]:
    response = await billing.get("/v1/customers/search", params={"query": query, **params})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "search_result"
    return [c["id"] for c in response.json()["data"]]


async def test_search_by_email_ignores_case(billing: httpx.AsyncClient) -> None:
    assert await search(billing, "email:'Alan.Turing@Example.com'") == ["cus_alan"]


async def test_search_by_phone_is_exact(billing: httpx.AsyncClient) -> None:
    assert await search(billing, "phone:'+14155550101'") == ["cus_grace"]
    assert await search(billing, "phone:'(415) 555-0101'") == []


async def test_search_joins_clauses_with_or(billing: httpx.AsyncClient) -> None:
    ids = await search(billing, "email:'ada.lovelace@example.com' OR phone:'+14155550101'")

    assert sorted(ids) == ["cus_ada", "cus_grace"]


async def test_search_joins_clauses_with_and(billing: httpx.AsyncClient) -> None:
    assert await search(billing, "name:'ada lovelace' AND phone:'+44 20 7946 0018'") == ["cus_ada"]
    assert await search(billing, "name:'ada lovelace' AND phone:'+14155550101'") == []


async def test_search_values_may_escape_quotes_and_backslashes(
    billing: httpx.AsyncClient,
) -> None:
    query = "email:'ada.lovelace@example.com' OR name:'O\\'Brien \\\\ Co'"

    assert await search(billing, query) == ["cus_ada"]


async def test_search_pages_follow_next_page(billing: httpx.AsyncClient, dataset: Dataset) -> None:
    query = "email~'example'"
    seen: list[str] = []
    params: dict[str, Any] = {"query": query, "limit": 40}
    while True:
        body = (await billing.get("/v1/customers/search", params=params)).json()
        seen.extend(c["id"] for c in body["data"])
        if not body["has_more"]:
            assert body["next_page"] is None
            break
        params["page"] = body["next_page"]

    expected = [c.id for c in dataset.billing.customers if c.email and "example" in c.email.lower()]
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(expected)
    assert len(expected) > 40


@pytest.mark.parametrize(
    "query",
    ["", "email:ada", "colour:'red'", "email:'a' AND name:'b' OR phone:'c'", "name~'ab'"],
)
async def test_search_refuses_queries_it_cannot_parse(
    billing: httpx.AsyncClient, query: str
) -> None:
    response = await billing.get("/v1/customers/search", params={"query": query})

    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["param"] == "query"


# --- errors and documents -----------------------------------------------------------------


async def test_unknown_customer_is_a_404_resource_missing(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/v1/customers/cus_nobody")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "message": "No such customer: 'cus_nobody'",
            "param": "id",
        }
    }


async def test_unknown_route_is_answered_in_stripe_shape(billing: httpx.AsyncClient) -> None:
    response = await billing.get("/v1/charges")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_live_wrong"}, {"Authorization": "Basic c2tfdGVzdA=="}],
)
async def test_requests_without_the_secret_key_are_refused(
    client_for: Any, headers: dict[str, str]
) -> None:
    async with client_for("billing", authenticated=False) as client:
        response = await client.get("/v1/customers/cus_ada", headers=headers)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "message" in response.json()["error"]


async def test_openapi_document_is_valid_and_public(client_for: Any) -> None:
    async with client_for("billing", authenticated=False) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert "/v1/customers/{id}" in document["paths"]
    assert document["servers"] == [{"url": "http://sandbox.test/billing"}]
