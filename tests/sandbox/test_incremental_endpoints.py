"""The sandbox's incremental listings, as the vendors offer them.

HubSpot: the contact search filters and sorts on ``lastmodifieddate`` (which the write
endpoint bumps) and pages through at most 10,000 results; Zendesk: the cursor-based
incremental user export; Stripe: ``created[gte]`` on the customer list.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from conftest import AUTH_HEADERS
from starlette.applications import Starlette

from sandbox.data.generate import generate_dataset
from sandbox.records import Dataset
from sandbox.server import create_sandbox_app

SEARCH = "/crm/v3/objects/contacts/search"
EXPORT = "/api/v2/incremental/users/cursor.json"


@pytest.fixture
def dataset() -> Dataset:
    """A small dataset of this test's own: the tests change records."""
    return generate_dataset(seed=7, customers=40)


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_sandbox_app(dataset=dataset)


async def _client(app: Starlette, system: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://sandbox.test/{system}",
        headers=AUTH_HEADERS[system],
    ) as client:
        yield client


@pytest.fixture
async def crm(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(app, "crm"):
        yield client


@pytest.fixture
async def support(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(app, "support"):
        yield client


@pytest.fixture
async def billing(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(app, "billing"):
        yield client


def modified_since(millis: int, *, after: str = "0", limit: int = 100) -> dict[str, Any]:
    return {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": millis}]}
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email"],
        "limit": limit,
        "after": after,
    }


# --- CRM -----------------------------------------------------------------------------------


async def test_a_contact_changed_through_the_api_is_the_one_modified_since(
    crm: httpx.AsyncClient,
) -> None:
    before_ms = int(time.time()) * 1000
    changed = await crm.patch(
        "/crm/v3/objects/contacts/1002", json={"properties": {"email": "grace@new.example"}}
    )

    found = (await crm.post(SEARCH, json=modified_since(before_ms))).json()

    assert changed.status_code == 200
    assert [c["id"] for c in found["results"]] == ["1002"]
    assert found["results"][0]["properties"]["email"] == "grace@new.example"


async def test_search_sorts_by_lastmodifieddate_ascending(crm: httpx.AsyncClient) -> None:
    found = (await crm.post(SEARCH, json=modified_since(0, limit=200))).json()["results"]

    times = [c["updatedAt"] for c in found]
    assert len(found) > 10
    assert times == sorted(times)
    assert [c["id"] for c in found] != sorted((c["id"] for c in found), key=int)


async def test_search_accepts_an_iso_time_for_a_date_filter(crm: httpx.AsyncClient) -> None:
    body = modified_since(0)
    body["filterGroups"][0]["filters"][0]["value"] = "2999-01-01T00:00:00Z"

    found = (await crm.post(SEARCH, json=body)).json()

    assert (found["total"], found["results"]) == (0, [])


async def test_search_refuses_to_page_past_ten_thousand_results(crm: httpx.AsyncClient) -> None:
    answer = await crm.post(SEARCH, json=modified_since(0, after="9950"))

    assert answer.status_code == 400
    assert answer.json()["category"] == "VALIDATION_ERROR"


async def test_search_refuses_a_date_filter_that_is_not_a_time(crm: httpx.AsyncClient) -> None:
    body = modified_since(0)
    body["filterGroups"][0]["filters"][0]["value"] = "yesterday"

    answer = await crm.post(SEARCH, json=body)

    assert answer.status_code == 400


# --- support -------------------------------------------------------------------------------


async def _export(support: httpx.AsyncClient, **params: str | int) -> dict[str, Any]:
    answer = await support.get(EXPORT, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_the_user_export_walks_every_user_once_in_update_order(
    support: httpx.AsyncClient, dataset: Dataset
) -> None:
    page = await _export(support, start_time=0, per_page=7)
    users = list(page["users"])
    while not page["end_of_stream"]:
        page = await _export(support, cursor=page["after_cursor"], per_page=7)
        users.extend(page["users"])

    assert sorted(u["id"] for u in users) == sorted(u.id for u in dataset.support.users)
    assert [(u["updated_at"], u["id"]) for u in users] == sorted(
        (u["updated_at"], u["id"]) for u in users
    )


async def test_the_export_resumes_with_only_what_changed_after_its_last_cursor(
    support: httpx.AsyncClient, dataset: Dataset
) -> None:
    caught_up = await _export(support, start_time=0)
    user = next(iter(dataset.support.users))
    dataset.support.users.update(user.id, lambda row: setattr(row, "updated", int(time.time())))

    resumed = await _export(support, cursor=caught_up["after_cursor"])

    assert caught_up["end_of_stream"] is True
    assert [u["id"] for u in resumed["users"]] == [user.id]
    assert resumed["end_of_stream"] is True


async def test_an_export_with_nothing_new_hands_back_a_cursor_to_resume_from(
    support: httpx.AsyncClient,
) -> None:
    future = int(time.time()) + 3600

    page = await _export(support, start_time=future)

    assert page["users"] == []
    assert page["after_cursor"]
    assert page["end_of_stream"] is True


@pytest.mark.parametrize(
    "params",
    [{}, {"start_time": "soon"}, {"cursor": "not-a-cursor"}, {"start_time": 0, "per_page": 0}],
)
async def test_the_export_refuses_bad_parameters(
    support: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    answer = await support.get(EXPORT, params=params)

    assert answer.status_code == 400
    assert answer.json()["error"] in {"InvalidValue", "InvalidPaginationParameter"}


# --- billing -------------------------------------------------------------------------------


async def test_created_gte_lists_only_customers_created_since(
    billing: httpx.AsyncClient, dataset: Dataset
) -> None:
    times = sorted(c.created for c in dataset.billing.customers)
    since = times[len(times) // 2]

    listed = (
        await billing.get("/v1/customers", params={"created[gte]": since, "limit": 100})
    ).json()

    expected = {c.id for c in dataset.billing.customers if c.created >= since}
    assert {c["id"] for c in listed["data"]} == expected
    assert 0 < len(expected) < len(times)


async def test_created_must_be_unix_seconds(billing: httpx.AsyncClient) -> None:
    answer = await billing.get("/v1/customers", params={"created[gte]": "last week"})

    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "created[gte]"
