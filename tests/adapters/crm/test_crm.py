"""HttpCrmAdapter against HubSpot CRM v3-shaped answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from kernel.errors import UpstreamContractError, UpstreamRateLimited, UpstreamRejected
from kernel.models import Address, CrmContactId
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import (
    hubspot_batch,
    hubspot_contact,
    hubspot_error,
    hubspot_page,
)

ADA = CrmContactId("1001")


@asynccontextmanager
async def crm(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpCrmAdapter]:
    config = CrmSettings(base_url="https://crm.test", **settings)
    async with client_for(config, crm_auth_headers(config), upstream) as client:
        yield HttpCrmAdapter(config, client, clock=lambda: NOW)


async def one_contact(**properties: str | None) -> Any:
    upstream = FakeUpstream.answering(json_response(hubspot_batch([hubspot_contact(**properties)])))
    async with crm(upstream) as adapter:
        return (await adapter.get_contacts([ADA]))[ADA]


def batch_read_echo(request: httpx.Request) -> httpx.Response:
    """A batch read that knows every id it is asked for."""
    ids = [i["id"] for i in json.loads(request.content)["inputs"]]
    return json_response(hubspot_batch([hubspot_contact(i) for i in ids]))


async def test_requests_carry_the_bearer_token() -> None:
    upstream = FakeUpstream.answering(json_response(hubspot_batch([])))
    async with crm(upstream, api_key="pat-123") as adapter:
        await adapter.get_contacts([ADA])
    assert upstream.request.headers["Authorization"] == "Bearer pat-123"


async def test_get_contacts_batch_reads_the_ids_with_named_properties() -> None:
    upstream = FakeUpstream.answering(json_response(hubspot_batch([hubspot_contact()])))
    async with crm(upstream, billing_id_property="stripe_id") as adapter:
        await adapter.get_contacts([ADA])
    assert upstream.request.url.path == "/crm/v3/objects/contacts/batch/read"
    assert upstream.body() == {
        "properties": [
            "firstname",
            "lastname",
            "email",
            "phone",
            "address",
            "city",
            "state",
            "zip",
            "country",
            "date_of_birth",
            "stripe_id",
        ],
        "inputs": [{"id": "1001"}],
    }


async def test_get_contacts_207_leaves_unknown_ids_out() -> None:
    answer = json_response(hubspot_batch([hubspot_contact("1001")], missing=["999"]), status=207)
    async with crm(FakeUpstream.answering(answer)) as adapter:
        contacts = await adapter.get_contacts([ADA, CrmContactId("999")])
    assert list(contacts) == ["1001"]


async def test_get_contacts_reads_at_most_100_ids_a_batch() -> None:
    upstream = FakeUpstream(batch_read_echo)
    ids = [CrmContactId(str(n)) for n in range(1, 251)]
    async with crm(upstream) as adapter:
        contacts = await adapter.get_contacts(ids)
    batches = [[i["id"] for i in upstream.body(n)["inputs"]] for n in range(len(upstream.requests))]
    assert sorted(len(b) for b in batches) == [50, 100, 100]
    assert sorted(contacts) == sorted(ids)


async def test_get_contacts_asks_once_for_a_repeated_id() -> None:
    upstream = FakeUpstream(batch_read_echo)
    async with crm(upstream) as adapter:
        await adapter.get_contacts([ADA, ADA])
    assert upstream.body()["inputs"] == [{"id": "1001"}]


async def test_get_contacts_of_no_ids_makes_no_request() -> None:
    upstream = FakeUpstream.answering()
    async with crm(upstream) as adapter:
        assert await adapter.get_contacts([]) == {}
    assert upstream.requests == []


async def test_get_contacts_fails_when_one_batch_fails() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if {"id": "150"} in json.loads(request.content)["inputs"]:
            return json_response(hubspot_error("RATE_LIMITS"), 429, {"Retry-After": "1"})
        return batch_read_echo(request)

    async with crm(FakeUpstream(respond)) as adapter:
        with pytest.raises(UpstreamRateLimited):
            await adapter.get_contacts([CrmContactId(str(n)) for n in range(1, 201)])


async def test_contact_names_and_keys() -> None:
    contact = await one_contact()
    assert (contact.first_name, contact.last_name, contact.email, contact.phone) == (
        "Ada",
        "Lovelace",
        "ada.lovelace@example.com",
        "+44 20 7946 0018",
    )
    assert contact.created_at == datetime(2024, 1, 1, tzinfo=UTC)
    assert contact.fetched_at == NOW


async def test_contact_address_maps_hubspot_properties() -> None:
    contact = await one_contact(
        address="1 Main St", city="Austin", state="TX", zip="78701", country="US"
    )
    assert contact.address == Address(
        line1="1 Main St", city="Austin", region="TX", postal_code="78701", country="US"
    )


async def test_contact_without_address_properties_has_no_address() -> None:
    contact = await one_contact(address=None, city="", state=None, zip="", country=None)
    assert contact.address is None


async def test_empty_string_properties_become_none() -> None:
    contact = await one_contact(firstname="", phone="  ")
    assert (contact.first_name, contact.phone) == (None, None)


async def test_billing_customer_id_comes_from_the_configured_property() -> None:
    payload = hubspot_contact(billing_customer_id=None, stripe_id="cus_x")
    upstream = FakeUpstream.answering(json_response(hubspot_batch([payload])))
    async with crm(upstream, billing_id_property="stripe_id") as adapter:
        contact = (await adapter.get_contacts([ADA]))[ADA]
    assert contact.billing_customer_id == "cus_x"


async def test_contact_without_billing_id_has_none() -> None:
    assert (await one_contact(billing_customer_id=None)).billing_customer_id is None


async def test_contact_missing_created_at_is_a_contract_error() -> None:
    payload = hubspot_contact()
    del payload["createdAt"]
    upstream = FakeUpstream.answering(json_response(hubspot_batch([payload])))
    async with crm(upstream) as adapter:
        with pytest.raises(UpstreamContractError) as caught:
            await adapter.get_contacts([ADA])
    assert caught.value.message == "contact batch payload failed validation"


async def test_hubspot_error_names_its_category_not_its_message() -> None:
    body = hubspot_error("INVALID_AUTHENTICATION", "Authentication credentials not found.")
    upstream = FakeUpstream.answering(json_response(body, status=401))
    async with crm(upstream) as adapter:
        with pytest.raises(UpstreamRejected) as caught:
            await adapter.get_contacts([ADA])
    assert caught.value.message == "answered HTTP 401 (INVALID_AUTHENTICATION)"


async def test_search_contacts_ors_an_email_group_and_a_phone_group() -> None:
    upstream = FakeUpstream.answering(json_response(hubspot_page([hubspot_contact()])))
    async with crm(upstream) as adapter:
        found = await adapter.search_contacts(email="ada@example.com", phone="+442079460018")
    assert upstream.request.url.path == "/crm/v3/objects/contacts/search"
    assert upstream.body()["filterGroups"] == [
        {"filters": [{"propertyName": "email", "operator": "EQ", "value": "ada@example.com"}]},
        {"filters": [{"propertyName": "phone", "operator": "EQ", "value": "+442079460018"}]},
    ]
    assert [c.id for c in found] == ["1001"]


async def test_search_contacts_without_keys_makes_no_request() -> None:
    upstream = FakeUpstream.answering()
    async with crm(upstream) as adapter:
        assert await adapter.search_contacts() == []
    assert upstream.requests == []


async def test_search_contacts_follows_paging_after() -> None:
    upstream = FakeUpstream.answering(
        json_response(hubspot_page([hubspot_contact("1004")], after="1")),
        json_response(hubspot_page([hubspot_contact("1005")])),
    )
    async with crm(upstream) as adapter:
        found = await adapter.search_contacts(email="katherine.johnson@example.com")
    assert [c.id for c in found] == ["1004", "1005"]
    assert [upstream.body(n)["after"] for n in range(2)] == ["0", "1"]


async def test_iter_contacts_follows_after_with_page_size() -> None:
    upstream = FakeUpstream.answering(
        json_response(hubspot_page([hubspot_contact("1001"), hubspot_contact("1002")], after="x")),
        json_response(hubspot_page([hubspot_contact("1003")])),
    )
    async with crm(upstream, page_size=2) as adapter:
        pages = [[c.id for c in page] async for page in adapter.iter_contacts()]
    assert pages == [["1001", "1002"], ["1003"]]
    assert "after" not in upstream.params(0)
    assert upstream.params(1)["after"] == "x"
    assert upstream.params(1)["limit"] == "2"


async def test_iter_contacts_asks_for_the_named_properties() -> None:
    upstream = FakeUpstream.answering(json_response(hubspot_page([])))
    async with crm(upstream) as adapter:
        _ = [page async for page in adapter.iter_contacts()]
    assert upstream.params()["properties"].split(",")[-1] == "billing_customer_id"


async def test_iter_contacts_repeating_its_cursor_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(
        *(json_response(hubspot_page([hubspot_contact()], after="same")) for _ in range(2))
    )
    async with crm(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            _ = [page async for page in adapter.iter_contacts()]
