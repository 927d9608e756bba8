"""The adapters' incremental listings, as each vendor offers one, against vendor-shaped answers.

HubSpot: a ``lastmodifieddate`` search sorted ascending, restarted before 10,000 results;
Stripe: ``created[gte]``; Zendesk: the cursor-based incremental user export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

import adapters.crm.client
from adapters.billing.client import HttpBillingAdapter, billing_auth_headers
from adapters.billing.settings import BillingSettings
from adapters.crm.client import HttpCrmAdapter, crm_auth_headers
from adapters.crm.settings import CrmSettings
from adapters.support.client import HttpSupportAdapter, support_auth_headers
from adapters.support.port import UserChanges
from adapters.support.settings import SupportSettings
from kernel.errors import UpstreamContractError
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import (
    hubspot_contact,
    hubspot_page,
    stripe_customer,
    stripe_list,
    zendesk_user,
)

SINCE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
SINCE_MS = 1_709_283_600_000
SINCE_SECONDS = 1_709_283_600


@asynccontextmanager
async def crm(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpCrmAdapter]:
    config = CrmSettings(base_url="https://crm.test", **settings)
    async with client_for(config, crm_auth_headers(config), upstream) as client:
        yield HttpCrmAdapter(config, client, clock=lambda: NOW)


@asynccontextmanager
async def billing(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpBillingAdapter]:
    config = BillingSettings(base_url="https://billing.test", **settings)
    async with client_for(config, billing_auth_headers(config), upstream) as client:
        yield HttpBillingAdapter(config, client, clock=lambda: NOW)


@asynccontextmanager
async def support(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpSupportAdapter]:
    config = SupportSettings(base_url="https://support.test", **settings)
    async with client_for(config, support_auth_headers(config), upstream) as client:
        yield HttpSupportAdapter(config, client, clock=lambda: NOW)


def contact_modified(id: str, at: str) -> dict[str, Any]:
    return hubspot_contact(id, lastmodifieddate=at) | {"updatedAt": at}


def export_page(
    users: list[dict[str, Any]], after_cursor: str | None, *, end_of_stream: bool
) -> dict[str, Any]:
    return {
        "users": users,
        "after_cursor": after_cursor,
        "after_url": None
        if after_cursor is None
        else f"https://support.test/x?cursor={after_cursor}",
        "before_cursor": None,
        "before_url": None,
        "end_of_stream": end_of_stream,
    }


# --- CRM (HubSpot) -------------------------------------------------------------------------


async def test_crm_changes_are_a_lastmodifieddate_search_sorted_ascending() -> None:
    upstream = FakeUpstream.answering(json_response(hubspot_page([hubspot_contact("1001")])))
    async with crm(upstream) as adapter:
        pages = [page async for page in adapter.iter_contacts_modified_since(SINCE)]

    body = upstream.body()
    assert [[c.id for c in page] for page in pages] == [["1001"]]
    assert upstream.request.url.path == "/crm/v3/objects/contacts/search"
    assert body["filterGroups"] == [
        {
            "filters": [
                {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(SINCE_MS)}
            ]
        }
    ]
    assert body["sorts"] == [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}]
    assert body["after"] == "0"


async def test_crm_changes_follow_after_page_by_page() -> None:
    upstream = FakeUpstream.answering(
        json_response(hubspot_page([hubspot_contact("1001")], after="1")),
        json_response(hubspot_page([hubspot_contact("1002")])),
    )
    async with crm(upstream, page_size=1) as adapter:
        pages = [[c.id for c in page] async for page in adapter.iter_contacts_modified_since(SINCE)]

    assert pages == [["1001"], ["1002"]]
    assert [upstream.body(n)["after"] for n in range(2)] == ["0", "1"]


async def test_crm_changes_restart_the_search_from_the_last_time_before_the_window_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A window of 4 results read 2 at a time: the third page would pass it, so the search
    # starts again from the last modification time read, as HubSpot advises past 10,000.
    monkeypatch.setattr(adapters.crm.client, "SEARCH_WINDOW", 4)
    upstream = FakeUpstream.answering(
        json_response(
            hubspot_page(
                [
                    contact_modified("1001", "2024-03-01T10:00:00Z"),
                    contact_modified("1002", "2024-03-01T11:00:00Z"),
                ],
                after="2",
            )
        ),
        json_response(
            hubspot_page(
                [
                    contact_modified("1003", "2024-03-01T12:00:00Z"),
                    contact_modified("1004", "2024-03-01T13:00:00Z"),
                ],
                after="4",
            )
        ),
        json_response(hubspot_page([contact_modified("1005", "2024-03-01T14:00:00Z")])),
    )
    async with crm(upstream, page_size=2) as adapter:
        ids = [c.id async for page in adapter.iter_contacts_modified_since(SINCE) for c in page]

    restarted = upstream.body(2)
    assert ids == ["1001", "1002", "1003", "1004", "1005"]
    assert restarted["after"] == "0"
    # 2024-03-01T13:00:00Z in milliseconds.
    assert restarted["filterGroups"][0]["filters"][0]["value"] == "1709298000000"


async def test_a_crm_search_window_that_does_not_advance_is_a_contract_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(adapters.crm.client, "SEARCH_WINDOW", 2)
    same = "2024-03-01T09:00:00Z"  # every contact modified at SINCE itself
    upstream = FakeUpstream.answering(
        json_response(
            hubspot_page(
                [contact_modified("1001", same), contact_modified("1002", same)], after="2"
            )
        ),
    )
    async with crm(upstream, page_size=2) as adapter:
        with pytest.raises(UpstreamContractError):
            _ = [page async for page in adapter.iter_contacts_modified_since(SINCE)]


# --- billing (Stripe) ----------------------------------------------------------------------


async def test_billing_new_customers_are_listed_with_created_gte_in_unix_seconds() -> None:
    upstream = FakeUpstream.answering(
        json_response(stripe_list([stripe_customer("cus_new")], has_more=True)),
        json_response(stripe_list([stripe_customer("cus_newer")])),
    )
    async with billing(upstream, page_size=1) as adapter:
        pages = [[c.id for c in page] async for page in adapter.iter_customers_created_since(SINCE)]

    assert pages == [["cus_new"], ["cus_newer"]]
    assert upstream.params(0) == {"created[gte]": str(SINCE_SECONDS), "limit": "1"}
    assert upstream.params(1)["starting_after"] == "cus_new"
    assert upstream.params(1)["created[gte]"] == str(SINCE_SECONDS)


# --- support (Zendesk) ---------------------------------------------------------------------


async def test_support_export_starts_at_a_time_and_follows_the_cursor_to_the_end() -> None:
    upstream = FakeUpstream.answering(
        json_response(export_page([zendesk_user(9001)], "c1", end_of_stream=False)),
        json_response(export_page([zendesk_user(9002)], "c2", end_of_stream=True)),
    )
    async with support(upstream, page_size=1) as adapter:
        pages = [page async for page in adapter.iter_user_changes(SINCE)]

    assert [([u.id for u in p.users], p.cursor) for p in pages] == [
        (["9001"], "c1"),
        (["9002"], "c2"),
    ]
    assert upstream.requests[0].url.path == "/api/v2/incremental/users/cursor.json"
    assert upstream.params(0) == {"start_time": str(SINCE_SECONDS), "per_page": "1"}
    assert upstream.params(1) == {"cursor": "c1", "per_page": "1"}


async def test_support_export_resumes_from_a_previous_cursor() -> None:
    upstream = FakeUpstream.answering(json_response(export_page([], "c9", end_of_stream=True)))
    async with support(upstream) as adapter:
        pages = [page async for page in adapter.iter_user_changes("c8")]

    assert pages == [UserChanges(users=(), cursor="c9")]
    assert upstream.params()["cursor"] == "c8"
    assert "start_time" not in upstream.params()


async def test_support_export_keeps_end_users_only() -> None:
    agent = zendesk_user(9100, role="agent")
    upstream = FakeUpstream.answering(
        json_response(export_page([zendesk_user(9001), agent], "c1", end_of_stream=True))
    )
    async with support(upstream) as adapter:
        pages = [page async for page in adapter.iter_user_changes(SINCE)]

    assert [u.id for u in pages[0].users] == ["9001"]


@pytest.mark.parametrize("after_cursor", [None, ""])
async def test_a_support_export_page_without_a_cursor_is_a_contract_error(
    after_cursor: str | None,
) -> None:
    upstream = FakeUpstream.answering(
        json_response(export_page([zendesk_user(9001)], after_cursor, end_of_stream=True))
    )
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            _ = [page async for page in adapter.iter_user_changes(SINCE)]


async def test_a_support_export_repeating_its_cursor_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(
        *(json_response(export_page([], "same", end_of_stream=False)) for _ in range(2))
    )
    async with support(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            _ = [page async for page in adapter.iter_user_changes(SINCE)]
