"""HttpSupportAdapter against Zendesk Support API v2-shaped answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.settings import SupportSettings
from kernel.errors import UpstreamContractError, UpstreamNotFound, UpstreamRejected
from kernel.models import SupportUserId, TicketStatus
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import (
    zendesk_cursor_page,
    zendesk_search_result,
    zendesk_ticket,
    zendesk_user,
)

ADA = SupportUserId("9001")


@asynccontextmanager
async def support(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpSupportAdapter]:
    config = SupportSettings(base_url="https://support.test", **settings)
    async with client_for(config, support_auth_headers(config), upstream) as client:
        yield HttpSupportAdapter(config, client, clock=lambda: NOW)


def show_many_echo(request: httpx.Request) -> httpx.Response:
    """``show_many`` that knows every id it is asked for."""
    ids = request.url.params["ids"].split(",")
    return json_response({"users": [zendesk_user(int(i)) for i in ids]})


async def tickets_of(*tickets: dict[str, Any]) -> Any:
    upstream = FakeUpstream.answering(json_response(zendesk_cursor_page("tickets", tickets)))
    async with support(upstream) as adapter:
        return (await adapter.list_requested_tickets(ADA)).items


# --- users --------------------------------------------------------------------------------


async def test_requests_carry_the_bearer_token() -> None:
    upstream = FakeUpstream(show_many_echo)
    async with support(upstream, api_key="zd-123") as adapter:
        await adapter.get_users([ADA])
    assert upstream.request.headers["Authorization"] == "Bearer zd-123"


async def test_get_users_shows_many_by_comma_joined_ids() -> None:
    upstream = FakeUpstream(show_many_echo)
    async with support(upstream) as adapter:
        users = await adapter.get_users([ADA, SupportUserId("9002")])
    assert upstream.request.url.path == "/api/v2/users/show_many"
    assert upstream.params() == {"ids": "9001,9002"}
    assert list(users) == ["9001", "9002"]


async def test_get_users_asks_at_most_100_ids_a_call() -> None:
    upstream = FakeUpstream(show_many_echo)
    ids = [SupportUserId(str(n)) for n in range(1, 202)]
    async with support(upstream) as adapter:
        users = await adapter.get_users(ids)
    sizes = sorted(len(upstream.params(n)["ids"].split(",")) for n in range(3))
    assert sizes == [1, 100, 100]
    assert sorted(users) == sorted(ids)


async def test_get_users_leaves_out_ids_that_cannot_be_zendesk_ids() -> None:
    upstream = FakeUpstream(show_many_echo)
    async with support(upstream) as adapter:
        users = await adapter.get_users([ADA, SupportUserId("abc"), SupportUserId("-1")])
    assert upstream.params() == {"ids": "9001"}
    assert list(users) == ["9001"]


async def test_get_users_leaves_out_unknown_ids() -> None:
    upstream = FakeUpstream.answering(json_response({"users": [zendesk_user(9001)]}))
    async with support(upstream) as adapter:
        users = await adapter.get_users([ADA, SupportUserId("42")])
    assert list(users) == ["9001"]


async def test_user_fields_and_integer_id_as_string() -> None:
    upstream = FakeUpstream.answering(json_response({"users": [zendesk_user(external_id="")]}))
    async with support(upstream) as adapter:
        user = (await adapter.get_users([ADA]))[ADA]
    assert (user.id, user.name, user.email, user.external_id) == (
        "9001",
        "Ada Lovelace",
        "ada.lovelace@example.com",
        None,
    )
    assert user.fetched_at == NOW


async def test_user_missing_created_at_is_a_contract_error() -> None:
    payload = zendesk_user()
    del payload["created_at"]
    upstream = FakeUpstream.answering(json_response({"users": [payload]}))
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.get_users([ADA])


async def test_zendesk_sentence_error_is_left_out_of_the_message() -> None:
    body = {"error": "Couldn't authenticate you"}
    upstream = FakeUpstream.answering(json_response(body, status=401))
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamRejected) as caught:
            await adapter.get_users([ADA])
    assert caught.value.message == "answered HTTP 401"


# --- tickets ------------------------------------------------------------------------------


async def test_list_requested_tickets_follows_the_cursor() -> None:
    upstream = FakeUpstream.answering(
        json_response(zendesk_cursor_page("tickets", [zendesk_ticket(3)], after_cursor="c1")),
        json_response(zendesk_cursor_page("tickets", [zendesk_ticket(2)], after_cursor="c2")),
        json_response(zendesk_cursor_page("tickets", [zendesk_ticket(1)])),
    )
    async with support(upstream, page_size=1) as adapter:
        tickets = await adapter.list_requested_tickets(ADA)
    assert upstream.requests[0].url.path == "/api/v2/users/9001/tickets/requested"
    assert [upstream.params(n).get("page[after]") for n in range(3)] == [None, "c1", "c2"]
    assert {upstream.params(n)["page[size]"] for n in range(3)} == {"1"}
    assert sorted(t.id for t in tickets.items) == ["1", "2", "3"]


async def test_tickets_are_newest_first() -> None:
    items = await tickets_of(
        zendesk_ticket(1, created_at="2024-01-01T00:00:00Z"),
        zendesk_ticket(2, created_at="2024-05-01T00:00:00Z"),
    )
    assert [t.id for t in items] == ["2", "1"]


async def test_ticket_status_maps_through_the_taxonomy() -> None:
    (ticket,) = await tickets_of(zendesk_ticket(status="pending"))
    assert ticket.status is TicketStatus.WAITING_ON_CUSTOMER
    assert ticket.source_status == "pending"


async def test_unmapped_ticket_status_is_unknown_and_counted() -> None:
    payload = json_response(zendesk_cursor_page("tickets", [zendesk_ticket(status="escalated")]))
    async with support(FakeUpstream.answering(payload)) as adapter:
        tickets = await adapter.list_requested_tickets(ADA)
    assert tickets.items[0].status is TicketStatus.UNKNOWN
    assert adapter.ticket_status.unmapped["escalated"] == 1


async def test_ticket_without_subject_has_an_empty_subject() -> None:
    (ticket,) = await tickets_of(zendesk_ticket(subject=None))
    assert ticket.subject == ""


async def test_tickets_of_an_unknown_user_are_not_found() -> None:
    body = {"error": "RecordNotFound", "description": "Not found"}
    upstream = FakeUpstream.answering(json_response(body, status=404))
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamNotFound) as caught:
            await adapter.list_requested_tickets(SupportUserId("42"))
    assert caught.value.message == "answered HTTP 404 (RecordNotFound)"


async def test_tickets_of_a_non_numeric_user_id_are_not_found_without_a_request() -> None:
    upstream = FakeUpstream.answering()
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamNotFound):
            await adapter.list_requested_tickets(SupportUserId("../admin"))
    assert upstream.requests == []


async def test_has_more_without_a_cursor_is_a_contract_error() -> None:
    page = zendesk_cursor_page("tickets", [zendesk_ticket()])
    page["meta"]["has_more"] = True
    async with support(FakeUpstream.answering(json_response(page))) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.list_requested_tickets(ADA)


# --- search and sync ----------------------------------------------------------------------


async def test_search_users_by_email_queries_the_email() -> None:
    upstream = FakeUpstream.answering(json_response(zendesk_search_result([zendesk_user()])))
    async with support(upstream) as adapter:
        found = await adapter.search_users(email="Ada.Lovelace@example.com")
    assert upstream.request.url.path == "/api/v2/users/search"
    assert upstream.params() == {"query": "email:Ada.Lovelace@example.com"}
    assert [u.id for u in found] == ["9001"]


async def test_search_users_by_email_and_phone_searches_twice_and_deduplicates() -> None:
    upstream = FakeUpstream(lambda _: json_response(zendesk_search_result([zendesk_user()])))
    async with support(upstream) as adapter:
        found = await adapter.search_users(email="ada.lovelace@example.com", phone="+442079460018")
    queries = sorted(upstream.params(n)["query"] for n in range(2))
    assert queries == ["email:ada.lovelace@example.com", "phone:+442079460018"]
    assert [u.id for u in found] == ["9001"]


async def test_search_users_keeps_only_exact_matches() -> None:
    users = [zendesk_user(1, email="ada@example.com"), zendesk_user(2, email="ada@example.co")]
    upstream = FakeUpstream.answering(json_response(zendesk_search_result(users)))
    async with support(upstream) as adapter:
        found = await adapter.search_users(email="ada@example.co*")
    assert found == []


async def test_search_users_leaves_out_agents() -> None:
    users = [zendesk_user(1), zendesk_user(2, role="agent")]
    upstream = FakeUpstream.answering(json_response(zendesk_search_result(users)))
    async with support(upstream) as adapter:
        found = await adapter.search_users(email="ada.lovelace@example.com")
    assert [u.id for u in found] == ["1"]


async def test_search_users_quotes_a_value_with_spaces() -> None:
    upstream = FakeUpstream.answering(json_response(zendesk_search_result([])))
    async with support(upstream) as adapter:
        await adapter.search_users(phone="(415) 555-0101")
    assert upstream.params() == {"query": 'phone:"(415) 555-0101"'}


async def test_search_users_without_keys_makes_no_request() -> None:
    upstream = FakeUpstream.answering()
    async with support(upstream) as adapter:
        assert await adapter.search_users() == []
    assert upstream.requests == []


async def test_iter_users_asks_for_end_users_page_by_page() -> None:
    upstream = FakeUpstream.answering(
        json_response(zendesk_cursor_page("users", [zendesk_user(1)], after_cursor="c1")),
        json_response(zendesk_cursor_page("users", [zendesk_user(2)])),
    )
    async with support(upstream, page_size=1) as adapter:
        pages = [[u.id for u in page] async for page in adapter.iter_users()]
    assert pages == [["1"], ["2"]]
    assert upstream.params(0) == {"role": "end-user", "page[size]": "1"}
    assert upstream.params(1) == {"role": "end-user", "page[size]": "1", "page[after]": "c1"}
