"""HttpIvrAdapter against Amazon Connect-shaped answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from adapters.ivr.client import HttpIvrAdapter, ivr_auth_headers
from adapters.ivr.settings import IvrSettings
from kernel.errors import UpstreamContractError, UpstreamNotFound, UpstreamRejected
from kernel.models import IvrContactId, IvrContactSummary
from tests.adapters.fake_upstream import NOW, FakeUpstream, client_for, json_response
from tests.adapters.vendor_payloads import connect_attributes, connect_page, connect_summary

CONTACT = IvrContactId("contact-ada-0001")
SINCE = datetime(2024, 6, 1, 10, 0, tzinfo=UTC)


@asynccontextmanager
async def ivr(upstream: FakeUpstream, **settings: Any) -> AsyncIterator[HttpIvrAdapter]:
    config = IvrSettings(base_url="https://ivr.test", **settings)
    async with client_for(config, ivr_auth_headers(config), upstream) as client:
        yield HttpIvrAdapter(config, client, clock=lambda: NOW)


async def contact_with(**attributes: str) -> Any:
    upstream = FakeUpstream.answering(json_response(connect_attributes(**attributes)))
    async with ivr(upstream) as adapter:
        return await adapter.get_contact(CONTACT)


async def test_requests_carry_the_api_key_header() -> None:
    upstream = FakeUpstream.answering(json_response(connect_attributes()))
    async with ivr(upstream, api_key="ivr-123") as adapter:
        await adapter.get_contact(CONTACT)
    assert upstream.request.headers["x-api-key"] == "ivr-123"
    assert "Authorization" not in upstream.request.headers


async def test_get_contact_reads_the_contact_attributes() -> None:
    upstream = FakeUpstream.answering(json_response(connect_attributes()))
    async with ivr(upstream) as adapter:
        await adapter.get_contact(CONTACT)
    assert upstream.request.url.path == "/contacts/contact-ada-0001/attributes"


async def test_get_contact_maps_attributes_to_canonical_names() -> None:
    contact = await contact_with()
    assert (
        contact.caller_number,
        contact.customer_ref_type,
        contact.customer_ref_value,
        contact.auth_method,
        contact.auth_result,
        contact.auth_score,
    ) == ("+442079460018", "PHONE", "+442079460018", "PIN", "AUTHENTICATED", 0.97)
    assert contact.fetched_at == NOW


async def test_get_contact_keeps_every_attribute() -> None:
    contact = await contact_with(QueueName="Billing")
    assert contact.attributes["QueueName"] == "Billing"
    assert contact.attributes["AuthMethod"] == "PIN"


@pytest.mark.parametrize("raw", ["high", "", "nan", "inf"])
async def test_auth_score_that_is_not_a_number_is_none(raw: str) -> None:
    assert (await contact_with(AuthScore=raw)).auth_score is None


async def test_attributes_the_flow_did_not_set_are_none() -> None:
    upstream = FakeUpstream.answering(json_response({"Attributes": {"CallerNumber": "+1"}}))
    async with ivr(upstream) as adapter:
        contact = await adapter.get_contact(CONTACT)
    assert (contact.auth_method, contact.auth_result, contact.auth_score) == (None, None, None)


async def test_unknown_contact_is_not_found_with_aws_type() -> None:
    body = {"__type": "ResourceNotFoundException", "Message": "Contact not found: x"}
    upstream = FakeUpstream.answering(json_response(body, status=404))
    async with ivr(upstream) as adapter:
        with pytest.raises(UpstreamNotFound) as caught:
            await adapter.get_contact(IvrContactId("x"))
    assert caught.value.message == "answered HTTP 404 (ResourceNotFoundException)"


async def test_namespaced_aws_error_type_is_shortened() -> None:
    body = {"__type": "com.amazonaws.connect#AccessDeniedException", "Message": "denied"}
    upstream = FakeUpstream.answering(json_response(body, status=403))
    async with ivr(upstream) as adapter:
        with pytest.raises(UpstreamRejected) as caught:
            await adapter.get_contact(CONTACT)
    assert caught.value.message == "answered HTTP 403 (AccessDeniedException)"


async def test_attributes_missing_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(json_response({"ContactId": "contact-ada-0001"}))
    async with ivr(upstream) as adapter:
        with pytest.raises(UpstreamContractError) as caught:
            await adapter.get_contact(CONTACT)
    assert caught.value.message == "contact attributes payload failed validation"


async def test_list_contacts_follows_next_token() -> None:
    upstream = FakeUpstream.answering(
        json_response(
            connect_page([connect_summary("c1", "2024-06-01T10:01:00Z")], next_token="t")
        ),
        json_response(connect_page([connect_summary("c2", "2024-06-01T10:02:00Z")])),
    )
    async with ivr(upstream, page_size=1) as adapter:
        contacts = await adapter.list_contacts(SINCE)
    assert [c.contact_id for c in contacts] == ["c1", "c2"]
    assert "NextToken" not in upstream.params(0)
    assert upstream.params(1)["NextToken"] == "t"
    assert upstream.params(1)["MaxResults"] == "1"


async def test_list_contacts_sends_since_in_utc() -> None:
    upstream = FakeUpstream.answering(json_response(connect_page([])))
    async with ivr(upstream) as adapter:
        await adapter.list_contacts(SINCE.astimezone(timezone(timedelta(hours=2))))
    assert upstream.params()["since"] == "2024-06-01T10:00:00Z"


async def test_list_contacts_refuses_a_naive_since() -> None:
    async with ivr(FakeUpstream.answering()) as adapter:
        with pytest.raises(ValueError, match="timezone"):
            await adapter.list_contacts(datetime(2024, 6, 1))


async def test_list_contacts_maps_summaries() -> None:
    upstream = FakeUpstream.answering(json_response(connect_page([connect_summary()])))
    async with ivr(upstream) as adapter:
        contacts = await adapter.list_contacts(SINCE)
    assert contacts == [
        IvrContactSummary(
            contact_id=IvrContactId("contact-ada-0001"),
            caller_number="+442079460018",
            initiated_at=datetime(2024, 6, 1, 11, 0, tzinfo=UTC),
        )
    ]


async def test_list_contacts_are_oldest_first() -> None:
    summaries = [
        connect_summary("late", "2024-06-01T11:30:00Z"),
        connect_summary("early", "2024-06-01T10:30:00Z"),
    ]
    upstream = FakeUpstream.answering(json_response(connect_page(summaries)))
    async with ivr(upstream) as adapter:
        contacts = await adapter.list_contacts(SINCE)
    assert [c.contact_id for c in contacts] == ["early", "late"]


async def test_list_contacts_repeating_its_token_is_a_contract_error() -> None:
    upstream = FakeUpstream.answering(
        *(json_response(connect_page([connect_summary()], next_token="same")) for _ in range(2))
    )
    async with ivr(upstream) as adapter:
        with pytest.raises(UpstreamContractError):
            await adapter.list_contacts(SINCE)
