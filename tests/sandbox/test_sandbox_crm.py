"""The CRM system (HubSpot-shaped): contacts, properties, search, batch read, errors."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from sandbox.records import Dataset

CONTACTS = "/crm/v3/objects/contacts"


async def get_contact(crm: httpx.AsyncClient, contact_id: str, *properties: str) -> Any:
    params = {"properties": ",".join(properties)} if properties else {}
    response = await crm.get(f"{CONTACTS}/{contact_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def search(crm: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await crm.post(f"{CONTACTS}/search", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def equals(name: str, value: str) -> dict[str, Any]:
    return {"filters": [{"propertyName": name, "operator": "EQ", "value": value}]}


# --- named customers --------------------------------------------------------------------


async def test_ada_has_her_contact_details_and_billing_reference(crm: httpx.AsyncClient) -> None:
    contact = await get_contact(crm, "1001", "email", "phone", "billing_customer_id")

    assert contact["id"] == "1001"
    assert contact["archived"] is False
    assert contact["properties"]["email"] == "ada.lovelace@example.com"
    assert contact["properties"]["phone"] == "+44 20 7946 0018"
    assert contact["properties"]["billing_customer_id"] == "cus_ada"


async def test_grace_has_a_us_national_phone_and_no_billing_reference(
    crm: httpx.AsyncClient,
) -> None:
    contact = await get_contact(crm, "1002", "phone", "billing_customer_id")

    assert contact["properties"]["phone"] == "(415) 555-0101"
    assert contact["properties"]["billing_customer_id"] is None


async def test_alan_has_a_lower_case_email_in_the_crm(crm: httpx.AsyncClient) -> None:
    contact = await get_contact(crm, "1003", "email", "billing_customer_id")

    assert contact["properties"]["email"] == "alan.turing@example.com"
    assert contact["properties"]["billing_customer_id"] is None


async def test_katherine_has_two_contacts_only_one_linked_to_billing(
    crm: httpx.AsyncClient,
) -> None:
    found = await search(
        crm,
        {
            "filterGroups": [equals("email", "katherine.johnson@example.com")],
            "properties": ["email", "billing_customer_id"],
        },
    )

    assert found["total"] == 2
    references = {c["id"]: c["properties"]["billing_customer_id"] for c in found["results"]}
    assert references == {"1004": "cus_katherine", "1005": None}


async def test_edsger_is_in_the_crm(crm: httpx.AsyncClient) -> None:
    contact = await get_contact(crm, "1006", "firstname", "lastname", "email")

    assert contact["properties"]["firstname"] == "Edsger"
    assert contact["properties"]["email"] == "edsger.dijkstra@example.com"


async def test_barbara_is_linked_to_billing(crm: httpx.AsyncClient) -> None:
    contact = await get_contact(crm, "1007", "billing_customer_id")

    assert contact["properties"]["billing_customer_id"] == "cus_barbara"


# --- properties ---------------------------------------------------------------------------


async def test_only_requested_properties_are_returned_plus_the_system_ones(
    crm: httpx.AsyncClient,
) -> None:
    contact = await get_contact(crm, "1001", "phone")

    assert set(contact["properties"]) == {
        "phone", "createdate", "lastmodifieddate", "hs_object_id",
    }  # fmt: skip
    assert contact["properties"]["hs_object_id"] == "1001"
    assert contact["properties"]["createdate"] == contact["createdAt"] == "2023-06-01T10:00:00Z"


async def test_without_properties_the_default_set_is_returned(crm: httpx.AsyncClient) -> None:
    contact = await get_contact(crm, "1001")

    assert set(contact["properties"]) == {
        "firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id",
    }  # fmt: skip


async def test_every_property_value_is_a_string_or_null(crm: httpx.AsyncClient) -> None:
    names = ("firstname", "lastname", "email", "phone", "address", "city", "state", "zip",
             "country", "billing_customer_id")  # fmt: skip
    response = await crm.get(CONTACTS, params={"limit": 100, "properties": ",".join(names)})

    values = [v for c in response.json()["results"] for v in c["properties"].values()]
    assert values
    assert all(v is None or isinstance(v, str) for v in values)


# --- lists and pagination ---------------------------------------------------------------


async def test_pages_cover_every_contact_once_in_id_order(
    crm: httpx.AsyncClient, dataset: Dataset
) -> None:
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        body = (await crm.get(CONTACTS, params=params)).json()
        ids.extend(c["id"] for c in body["results"])
        if "paging" not in body:
            break
        assert body["paging"]["next"]["link"].startswith("http://sandbox.test/crm/")
        params["after"] = body["paging"]["next"]["after"]

    assert ids == sorted(dataset.crm.contacts.rows, key=int)


async def test_search_pages_cover_every_match_once(crm: httpx.AsyncClient) -> None:
    body: dict[str, Any] = {
        "filterGroups": [{"filters": [{"propertyName": "country", "operator": "EQ",
                                       "value": "united kingdom"}]}],
        "limit": 50,
    }  # fmt: skip
    ids: list[str] = []
    total = None
    while True:
        found = await search(crm, body)
        total = found["total"]
        ids.extend(c["id"] for c in found["results"])
        if "paging" not in found:
            break
        body["after"] = found["paging"]["next"]["after"]

    assert len(ids) == len(set(ids)) == total
    assert total > 50


@pytest.mark.parametrize("limit", ["0", "101"])
async def test_list_limit_out_of_range_is_refused(crm: httpx.AsyncClient, limit: str) -> None:
    response = await crm.get(CONTACTS, params={"limit": limit})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


# --- search -------------------------------------------------------------------------------


async def test_search_by_email_ignores_case(crm: httpx.AsyncClient) -> None:
    found = await search(crm, {"filterGroups": [equals("email", "ADA.LOVELACE@example.com")]})

    assert [c["id"] for c in found["results"]] == ["1001"]


async def test_search_by_phone_is_exact_on_the_stored_string(crm: httpx.AsyncClient) -> None:
    exact = await search(crm, {"filterGroups": [equals("phone", "(415) 555-0101")]})
    other_format = await search(crm, {"filterGroups": [equals("phone", "+14155550101")]})

    assert [c["id"] for c in exact["results"]] == ["1002"]
    assert other_format == {"total": 0, "results": []}


async def test_search_ors_groups_and_ands_filters(crm: httpx.AsyncClient) -> None:
    found = await search(
        crm,
        {
            "filterGroups": [
                equals("email", "ada.lovelace@example.com"),
                {
                    "filters": [
                        {"propertyName": "email", "operator": "EQ",
                         "value": "katherine.johnson@example.com"},
                        {"propertyName": "billing_customer_id", "operator": "HAS_PROPERTY"},
                    ]
                },
            ]
        },
    )  # fmt: skip

    assert sorted(c["id"] for c in found["results"]) == ["1001", "1004"]


@pytest.mark.parametrize(
    "body",
    [
        {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "LIKE"}]}]},
        {"filterGroups": "email"},
        {"limit": 0},
        {"unknown": True},
        {"filterGroups": [equals("email", "x")] * 6},
    ],
)
async def test_search_refuses_a_body_it_cannot_read(
    crm: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await crm.post(f"{CONTACTS}/search", json=body)

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert response.json()["status"] == "error"


async def test_search_refuses_a_body_that_is_not_json(crm: httpx.AsyncClient) -> None:
    response = await crm.post(f"{CONTACTS}/search", content=b"filterGroups=1")

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


# --- batch read -------------------------------------------------------------------------


async def test_batch_read_of_known_ids_is_complete(crm: httpx.AsyncClient) -> None:
    response = await crm.post(
        f"{CONTACTS}/batch/read",
        json={"properties": ["email"], "inputs": [{"id": "1001"}, {"id": "1002"}]},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "COMPLETE"
    assert [c["properties"]["email"] for c in body["results"]] == [
        "ada.lovelace@example.com",
        "grace.hopper@example.com",
    ]
    assert "errors" not in body
    assert body["startedAt"].endswith("Z")


async def test_batch_read_with_unknown_ids_is_a_207_naming_them(crm: httpx.AsyncClient) -> None:
    response = await crm.post(
        f"{CONTACTS}/batch/read",
        json={"inputs": [{"id": "1001"}, {"id": "999999"}, {"id": "888888"}]},
    )

    assert response.status_code == 207
    body = response.json()
    assert [c["id"] for c in body["results"]] == ["1001"]
    assert body["numErrors"] == 1
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert body["errors"][0]["context"] == {"ids": ["999999", "888888"]}


async def test_batch_read_of_more_than_100_ids_is_refused(crm: httpx.AsyncClient) -> None:
    inputs = [{"id": str(1000 + n)} for n in range(101)]
    response = await crm.post(f"{CONTACTS}/batch/read", json={"inputs": inputs})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"


# --- errors and documents ---------------------------------------------------------------


async def test_unknown_contact_is_a_404_object_not_found(crm: httpx.AsyncClient) -> None:
    response = await crm.get(f"{CONTACTS}/999999")

    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == "OBJECT_NOT_FOUND"
    assert len(body["correlationId"]) == 36


async def test_contact_can_be_read_by_email(crm: httpx.AsyncClient) -> None:
    response = await crm.get(f"{CONTACTS}/grace.hopper@example.com", params={"idProperty": "email"})

    assert response.json()["id"] == "1002"


async def test_requests_without_the_token_are_refused(client_for: Any) -> None:
    async with client_for("crm", authenticated=False) as client:
        response = await client.get(f"{CONTACTS}/1001")

    assert response.status_code == 401
    assert response.json()["category"] == "INVALID_AUTHENTICATION"


async def test_openapi_document_is_valid_and_public(client_for: Any) -> None:
    async with client_for("crm", authenticated=False) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    validate(response.json())
    assert "/crm/v3/objects/contacts/batch/read" in response.json()["paths"]
