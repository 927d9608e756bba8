"""The IVR system (Amazon Connect-shaped): contact attributes and the contact list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from sandbox.records import Dataset


async def collect(ivr: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    """Every contact summary, following ``NextToken``."""
    contacts: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        response = await ivr.get("/contacts", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        contacts.extend(body["ContactSummaryList"])
        if body["NextToken"] is None:
            return contacts
        query["NextToken"] = body["NextToken"]


async def test_ada_was_authenticated_by_pin_on_her_phone(ivr: httpx.AsyncClient) -> None:
    response = await ivr.get("/contacts/contact-ada-0001/attributes")

    assert response.status_code == 200
    attributes = response.json()["Attributes"]
    assert attributes["CallerNumber"] == "+442079460018"
    assert attributes["CustomerRefType"] == "PHONE"
    assert attributes["CustomerRefValue"] == "+442079460018"
    assert attributes["AuthMethod"] == "PIN"
    assert attributes["AuthResult"] == "AUTHENTICATED"
    assert all(isinstance(value, str) for value in attributes.values())


async def test_pages_cover_every_contact_once_oldest_first(
    ivr: httpx.AsyncClient, dataset: Dataset
) -> None:
    contacts = await collect(ivr, MaxResults=25)

    keys = [(c["InitiationTimestamp"], c["Id"]) for c in contacts]
    assert keys == sorted(keys)
    assert sorted(c["Id"] for c in contacts) == sorted(dataset.ivr.contacts.rows)
    assert len(contacts) > 25


async def test_since_leaves_out_older_contacts(ivr: httpx.AsyncClient, dataset: Dataset) -> None:
    since = "2024-05-20T00:00:00Z"
    contacts = await collect(ivr, since=since, MaxResults=3)

    assert all(c["InitiationTimestamp"] >= since for c in contacts)
    assert "contact-ada-0001" in {c["Id"] for c in contacts}
    assert 0 < len(contacts) < len(dataset.ivr.contacts)


async def test_summary_names_the_caller_endpoint(ivr: httpx.AsyncClient) -> None:
    contacts = await collect(ivr, since="2024-05-31T09:30:00Z")

    (ada,) = [c for c in contacts if c["Id"] == "contact-ada-0001"]
    assert ada == {
        "Id": "contact-ada-0001",
        "InitiationTimestamp": "2024-05-31T09:30:00Z",
        "Channel": "VOICE",
        "CustomerEndpoint": {"Address": "+442079460018", "Type": "TELEPHONE_NUMBER"},
    }


@pytest.mark.parametrize(
    "params", [{"since": "yesterday"}, {"MaxResults": "0"}, {"NextToken": "garbage"}]
)
async def test_bad_parameters_are_refused(ivr: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await ivr.get("/contacts", params=params)

    assert response.status_code == 400
    assert response.json()["__type"] == "InvalidParameterException"


async def test_unknown_contact_is_a_resource_not_found(ivr: httpx.AsyncClient) -> None:
    response = await ivr.get("/contacts/contact-nobody/attributes")

    assert response.status_code == 404
    assert response.json()["__type"] == "ResourceNotFoundException"
    assert "contact-nobody" in response.json()["Message"]


async def test_requests_without_the_api_key_are_refused(client_for: Any) -> None:
    async with client_for("ivr", authenticated=False) as client:
        response = await client.get(
            "/contacts/contact-ada-0001/attributes", headers={"x-api-key": "wrong"}
        )

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


async def test_openapi_document_is_valid_and_public(client_for: Any) -> None:
    async with client_for("ivr", authenticated=False) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    validate(response.json())
    assert response.json()["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
