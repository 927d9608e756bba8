"""The bulk listings the facts refresh reads, through the real adapters, against the sandbox:
every subscription (Stripe's list without ``customer``) and every ticket (Zendesk's List
Tickets), each once, with the customer or requester it belongs to."""

from __future__ import annotations

from starlette.applications import Starlette

from adapters.billing.client import HttpBillingAdapter
from adapters.billing.settings import BillingSettings
from adapters.support.client import HttpSupportAdapter
from adapters.support.settings import SupportSettings
from sandbox.records import Dataset
from tests.sandbox.conftest import make_client


async def test_every_subscription_is_listed_once_with_its_customer(
    app: Starlette, dataset: Dataset
) -> None:
    async with make_client(app, "billing") as client:
        billing = HttpBillingAdapter(BillingSettings(page_size=50), client)
        listed = [
            (customer, sub.id)
            async for page in billing.iter_subscriptions()
            for customer, sub in page
        ]

    expected = {(s.customer, s.id) for s in dataset.billing.subscriptions.rows.values()}
    assert len(listed) == len(expected) > 50
    assert set(listed) == expected


async def test_every_ticket_is_listed_once_with_its_requester(
    app: Starlette, dataset: Dataset
) -> None:
    async with make_client(app, "support") as client:
        support = HttpSupportAdapter(SupportSettings(page_size=100), client)
        listed = [
            (requester, ticket.id)
            async for page in support.iter_tickets()
            for requester, ticket in page
        ]

    expected = {(str(t.requester_id), str(t.id)) for t in dataset.support.tickets.rows.values()}
    assert len(listed) == len(expected) > 100
    assert set(listed) == expected
