"""The identity sync's match rules: which are used, in the order given, and keys skipped."""

from __future__ import annotations

import pytest

from app.identity.settings import MatchRule
from app.identity.sync.report import SourceCounts
from app.store.customers import Store
from kernel.identity import IdentityLink
from kernel.models import Source
from tests.app.identity.sync.sync_kit import link_rules, sync
from tests.builders import billing_customer, crm_contact
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, holding
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter

# --- match rules ---------------------------------------------------------------------------


async def test_xref_is_not_used_when_the_rules_leave_it_out(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems, rules=("email",))

    alan = await customer_of(store, Source.CRM, "1003")
    alan_support = await customer_of(store, Source.SUPPORT, "9003")
    assert alan_support.id != alan.id
    assert alan_support.links == (IdentityLink(Source.SUPPORT, "9003", "anchor"),)


@pytest.mark.parametrize(
    ("rules", "expected_contact", "expected_rule"),
    [(("xref", "email"), "1", "xref"), (("email", "xref"), "2", "email")],
)
async def test_rules_are_tried_in_the_order_given(
    store: Store,
    rules: tuple[MatchRule, ...],
    expected_contact: str,
    expected_rule: str,
) -> None:
    systems = holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1", "Named", "ByXref", billing_id="cus_1"),
                crm_contact("2", "Named", "ByEmail", email="shared@x.example"),
            ]
        ),
        billing=FakeBillingAdapter([billing_customer("cus_1", "B", email="shared@x.example")]),
    )

    await sync(store, systems, rules=rules)

    expected = await customer_of(store, Source.CRM, expected_contact)
    assert expected.link_for(Source.BILLING) == IdentityLink(Source.BILLING, "cus_1", expected_rule)


async def test_a_billing_id_named_by_two_customers_links_by_the_next_rule(store: Store) -> None:
    systems = holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1", "One", "Contact", billing_id="cus_1"),
                crm_contact("2", "Two", "Contact", billing_id="cus_1"),
                crm_contact("3", "Three", "Contact", billing_id="cus_1", email="b@x.example"),
            ]
        ),
        billing=FakeBillingAdapter([billing_customer("cus_1", "B", email="b@x.example")]),
    )

    report = await sync(store, systems)

    three = await customer_of(store, Source.CRM, "3")
    assert three.link_for(Source.BILLING) == IdentityLink(Source.BILLING, "cus_1", "email")
    assert report.for_source(Source.BILLING).ambiguous == 1


async def test_phone_links_when_it_is_the_only_rule(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems, rules=("phone",))

    grace = await customer_of(store, Source.CRM, "1002")
    alan = await customer_of(store, Source.CRM, "1003")
    assert link_rules(grace) == {
        Source.CRM: "anchor",
        Source.BILLING: "phone",
        Source.SUPPORT: "phone",
    }
    assert link_rules(alan) == {Source.CRM: "anchor"}


async def test_invalid_emails_and_phones_are_skipped_as_keys_not_errors(store: Store) -> None:
    systems = holding(
        crm=FakeCrmAdapter([crm_contact("1", "Ivy", "Invalid", email="not an email", phone="12")]),
        billing=FakeBillingAdapter([billing_customer("cus_1", "Ivy", email="not an email")]),
    )

    report = await sync(store, systems)

    assert report.for_source(Source.CRM) == SourceCounts(
        seen=1, customers_created=1, skipped_invalid=2
    )
    assert report.for_source(Source.BILLING) == SourceCounts(
        seen=1, customers_created=1, skipped_invalid=1
    )
    assert await store.find_by_email("not an email") == []
