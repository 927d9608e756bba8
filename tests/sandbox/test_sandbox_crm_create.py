"""The sandbox CRM's contact creation (HubSpot's ``POST /crm/v3/objects/contacts``)."""

from __future__ import annotations

import httpx

CONTACTS = "/crm/v3/objects/contacts"


async def test_a_created_contact_gets_the_next_id_and_can_be_read_back(
    crm: httpx.AsyncClient,
) -> None:
    response = await crm.post(
        CONTACTS, json={"properties": {"firstname": "Nia", "email": "nia@example.com"}}
    )

    assert response.status_code == 201, response.text
    created = response.json()
    read = await crm.get(f"{CONTACTS}/{created['id']}", params={"properties": "firstname,email"})
    assert read.json()["properties"]["email"] == "nia@example.com"
    second = await crm.post(CONTACTS, json={"properties": {"firstname": "Ola"}})
    assert int(second.json()["id"]) == int(created["id"]) + 1


async def test_a_created_contact_is_found_by_search(crm: httpx.AsyncClient) -> None:
    await crm.post(CONTACTS, json={"properties": {"email": "found.me@example.com"}})

    response = await crm.post(
        f"{CONTACTS}/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "email", "operator": "EQ", "value": "FOUND.ME@example.com"}
                    ]
                }
            ]
        },
    )

    assert response.json()["total"] == 1


async def test_a_read_only_property_is_refused_and_nothing_is_created(
    crm: httpx.AsyncClient,
) -> None:
    before = await total(crm)

    response = await crm.post(CONTACTS, json={"properties": {"hs_object_id": "1"}})

    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert await total(crm) == before


async def total(crm: httpx.AsyncClient) -> int:
    """How many contacts the CRM holds (a search with no filter matches them all)."""
    count: int = (await crm.post(f"{CONTACTS}/search", json={})).json()["total"]
    return count
