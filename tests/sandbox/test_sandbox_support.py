"""The support system (Zendesk-shaped): users, requested tickets, cursors, search, errors."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from sandbox.records import Dataset

FINISHED = {"solved", "closed"}


async def collect(
    support: httpx.AsyncClient, path: str, name: str, **params: Any
) -> list[dict[str, Any]]:
    """Every record of a cursor-paginated list, following ``meta.after_cursor``."""
    records: list[dict[str, Any]] = []
    query = {"page[size]": 100, **params}
    while True:
        response = await support.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        records.extend(body[name])
        if not body["meta"]["has_more"]:
            assert body["links"]["next"] is None
            return records
        query["page[after]"] = body["meta"]["after_cursor"]


async def get_user(support: httpx.AsyncClient, user_id: int) -> Any:
    response = await support.get("/api/v2/users/show_many", params={"ids": str(user_id)})
    (user,) = response.json()["users"]
    return user


async def search(support: httpx.AsyncClient, query: str) -> list[int]:
    response = await support.get("/api/v2/users/search", params={"query": query})
    assert response.status_code == 200, response.text
    assert response.json()["count"] == len(response.json()["users"])
    return [u["id"] for u in response.json()["users"]]


# --- named customers --------------------------------------------------------------------


async def test_ada_is_an_end_user_linked_to_her_crm_contact(support: httpx.AsyncClient) -> None:
    user = await get_user(support, 9001)

    assert user["name"] == "Ada Lovelace"
    assert user["email"] == "ada.lovelace@example.com"
    assert user["phone"] == "+44 20 7946 0018"
    assert user["external_id"] == "1001"
    assert user["role"] == "end-user"
    assert user["url"] == "http://sandbox.test/support/api/v2/users/9001.json"


async def test_ada_has_an_open_a_pending_and_a_solved_ticket(support: httpx.AsyncClient) -> None:
    tickets = await collect(support, "/api/v2/users/9001/tickets/requested", "tickets")

    assert [(t["id"], t["status"]) for t in tickets] == [
        (70001, "open"),
        (70002, "pending"),
        (70003, "solved"),
    ]
    assert all(t["requester_id"] == 9001 for t in tickets)


async def test_grace_has_a_dotted_phone_and_no_external_id(support: httpx.AsyncClient) -> None:
    user = await get_user(support, 9002)

    assert user["phone"] == "415.555.0101"
    assert user["external_id"] is None


async def test_alan_has_another_email_and_his_crm_id(support: httpx.AsyncClient) -> None:
    user = await get_user(support, 9003)

    assert user["email"] == "alan@turing.example"
    assert user["external_id"] == "1003"


async def test_katherine_is_a_support_user(support: httpx.AsyncClient) -> None:
    user = await get_user(support, 9004)

    assert user["email"] == "katherine.johnson@example.com"


async def test_edsger_is_not_in_support(support: httpx.AsyncClient) -> None:
    assert await search(support, "email:edsger.dijkstra@example.com") == []


async def test_barbara_has_150_tickets_40_of_them_not_finished(
    support: httpx.AsyncClient,
) -> None:
    tickets = await collect(support, "/api/v2/users/9007/tickets/requested", "tickets")

    assert len(tickets) == len({t["id"] for t in tickets}) == 150
    statuses = Counter(t["status"] for t in tickets)
    assert sum(n for status, n in statuses.items() if status not in FINISHED) == 40


# --- pagination ---------------------------------------------------------------------------


async def test_user_pages_cover_every_user_once_in_id_order(
    support: httpx.AsyncClient, dataset: Dataset
) -> None:
    users = await collect(support, "/api/v2/users", "users", role="end-user")

    assert [u["id"] for u in users] == sorted(dataset.support.users.rows)


async def test_ticket_pages_are_newest_first_without_gaps(support: httpx.AsyncClient) -> None:
    tickets = await collect(
        support, "/api/v2/users/9007/tickets/requested", "tickets", **{"page[size]": 7}
    )

    keys = [(t["created_at"], t["id"]) for t in tickets]
    assert keys == sorted(keys, reverse=True)
    assert len(tickets) == 150


async def test_before_cursor_goes_back_to_the_previous_page(support: httpx.AsyncClient) -> None:
    first = (await support.get("/api/v2/users", params={"page[size]": 10})).json()
    second = (
        await support.get(
            "/api/v2/users",
            params={"page[size]": 10, "page[after]": first["meta"]["after_cursor"]},
        )
    ).json()
    back = (
        await support.get(
            "/api/v2/users",
            params={"page[size]": 10, "page[before]": second["meta"]["before_cursor"]},
        )
    ).json()

    assert back["users"] == first["users"]
    assert back["meta"]["has_more"] is False
    assert first["links"]["prev"] is None
    assert second["links"]["prev"] is not None


@pytest.mark.parametrize(
    "params",
    [{"page[size]": "0"}, {"page[size]": "101"}, {"page[after]": "not-a-cursor"}],
)
async def test_bad_pagination_parameters_are_refused(
    support: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await support.get("/api/v2/users", params=params)

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidPaginationParameter"


# --- search and show_many ---------------------------------------------------------------


async def test_search_by_email_ignores_case(support: httpx.AsyncClient) -> None:
    assert await search(support, "email:Grace.Hopper@EXAMPLE.com") == [9002]


async def test_search_by_phone_is_exact_on_the_stored_string(support: httpx.AsyncClient) -> None:
    assert await search(support, "phone:415.555.0101") == [9002]
    assert await search(support, "phone:+14155550101") == []


async def test_search_by_phone_with_spaces(support: httpx.AsyncClient) -> None:
    assert await search(support, "phone:+44 20 7946 0018") == [9001]


async def test_search_by_a_quoted_phrase(support: httpx.AsyncClient) -> None:
    assert await search(support, 'phone:"+44 20 7946 0018"') == [9001]


async def test_search_by_external_id(support: httpx.AsyncClient) -> None:
    assert await search(support, "external_id:1003") == [9003]


async def test_search_by_free_text_matches_names(support: httpx.AsyncClient) -> None:
    assert 9007 in await search(support, "liskov")


async def test_show_many_leaves_unknown_ids_out(support: httpx.AsyncClient) -> None:
    response = await support.get("/api/v2/users/show_many", params={"ids": "9001,123,9002"})

    assert [u["id"] for u in response.json()["users"]] == [9001, 9002]


async def test_show_many_of_more_than_100_ids_is_refused(support: httpx.AsyncClient) -> None:
    ids = ",".join(str(20001 + n) for n in range(101))
    response = await support.get("/api/v2/users/show_many", params={"ids": ids})

    assert response.status_code == 400


async def test_tickets_show_many_leaves_unknown_ids_out(support: httpx.AsyncClient) -> None:
    response = await support.get("/api/v2/tickets/show_many", params={"ids": "70001,1,70005"})

    assert [t["id"] for t in response.json()["tickets"]] == [70001, 70005]


# --- errors and documents ---------------------------------------------------------------


async def test_tickets_of_an_unknown_user_are_a_404_record_not_found(
    support: httpx.AsyncClient,
) -> None:
    response = await support.get("/api/v2/users/123/tickets/requested")

    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


async def test_requests_without_the_token_are_refused(client_for: Any) -> None:
    async with client_for("support", authenticated=False) as client:
        response = await client.get("/api/v2/users/show_many", params={"ids": "9001"})

    assert response.status_code == 401
    assert response.json() == {"error": "Couldn't authenticate you"}


async def test_openapi_document_is_valid_and_public(client_for: Any) -> None:
    async with client_for("support", authenticated=False) as client:
        response = await client.get("/openapi.json")

    assert response.status_code == 200
    validate(response.json())
    assert "/api/v2/users/{id}/tickets/requested" in response.json()["paths"]
