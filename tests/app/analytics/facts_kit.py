"""What the tests of the customer_facts refresh share: the systems (in-memory fakes) with Ada,
Grace and Alan, their fixed times, and each customer's facts read back by CRM id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.store.customers import Store
from app.store.facts import PostgresFactsStore
from kernel.customer_facts import CustomerFacts
from kernel.models import Address, Source, SubscriptionStatus, TicketStatus
from tests.builders import (
    billing_customer,
    crm_contact,
    ivr_contact_summary,
    subscription,
    support_user,
    ticket,
)
from tests.fake_orders import FakeOrdersAdapter
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeIvrAdapter, FakeSupportAdapter

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2025, 5, 1, tzinfo=UTC)

#: The orders database knows no one here (tests/app/analytics/test_order_facts.py).
NO_ORDERS = {Source.ORDERS: FakeOrdersAdapter()}


def systems(
    page_size: int = 2,
) -> tuple[FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter, FakeIvrAdapter]:
    """Ada (every system, delinquent, two open tickets, a call), Grace (CRM and billing),
    Alan (CRM only). Small pages, so that facts add up across pages."""
    crm = FakeCrmAdapter(
        [
            crm_contact(
                "c-ada",
                "Ada",
                "Lovelace",
                email="ada@example.com",
                phone="+442071234567",
                billing_id="cus_ada",
                address=Address(city="London", country="United Kingdom"),
            ),
            crm_contact("c-grace", "Grace", "Hopper", billing_id="cus_grace"),
            crm_contact("c-alan", "Alan", "Turing", email="alan@example.com"),
        ],
        page_size=page_size,
    )
    billing = FakeBillingAdapter(
        [
            billing_customer("cus_ada", balance="42.50", delinquent=True),
            billing_customer("cus_grace", balance="-5", currency="USD"),
        ],
        subscriptions={
            "cus_ada": [
                subscription("sub_1", status=SubscriptionStatus.CANCELED),
                subscription("sub_2", status=SubscriptionStatus.PAST_DUE),
                subscription("sub_3", status=SubscriptionStatus.TRIALING),
            ],
        },
        page_size=page_size,
    )
    support = FakeSupportAdapter(
        [support_user("z-ada", external_id="c-ada")],
        tickets={
            "z-ada": [
                ticket("1", created_at=T1),
                ticket("2", status=TicketStatus.SOLVED, created_at=T1 + timedelta(days=3)),
                ticket("3", status=TicketStatus.ON_HOLD, created_at=T1 + timedelta(days=1)),
            ]
        },
        page_size=page_size,
    )
    ivr = FakeIvrAdapter(
        summaries=[
            ivr_contact_summary(
                "call-1", caller_number="+44 20 7123 4567", initiated_at=NOW - timedelta(days=2)
            ),
            ivr_contact_summary("call-2", caller_number="+15550000000", initiated_at=NOW),
        ]
    )
    return billing, crm, support, ivr


async def facts_by_crm_id(store: Store) -> dict[str, CustomerFacts]:
    result: dict[str, CustomerFacts] = {}
    for crm_id in ("c-ada", "c-grace", "c-alan"):
        customer_id = await store.find_by_source_id(Source.CRM, crm_id)
        assert customer_id is not None
        found = await PostgresFactsStore(store.pool).get_facts([customer_id])
        result[crm_id] = found[customer_id]
    return result
