"""What follows from identity evidence holds for any source, registered in any order."""

from __future__ import annotations

from adapters.registry import fallback_order, record_nouns
from kernel.identity import CustomerId
from kernel.identity_evidence import ContactKey, SharedKeyLead, duplicate_reason, sourced_values
from kernel.models import Source


def test_the_registry_orders_sources_as_the_contact_details_trade_goes() -> None:
    assert fallback_order() == (
        Source.CRM,
        Source.BILLING,
        Source.SUPPORT,
        Source.ORDERS,
        Source.IVR,
    )


def test_a_source_outside_the_fallback_order_comes_last_and_is_no_error() -> None:
    keys = [
        ContactKey("email", "ada@support.example", Source.SUPPORT, "9"),
        ContactKey("email", "ada@crm.example", Source.CRM, "1"),
    ]

    values = sourced_values(keys, "email", {}, fallback_order=(Source.CRM,))

    assert [found.source for found in values] == [Source.CRM, Source.SUPPORT]


def test_a_record_of_a_source_without_a_noun_is_named_after_its_source() -> None:
    lead = SharedKeyLead(CustomerId("cust_2"), "email", Source.SUPPORT, "9")

    named = duplicate_reason([lead], same_name=False, record_nouns=record_nouns())
    unnamed = duplicate_reason([lead], same_name=False, record_nouns={})

    assert named == "same email address as support user 9"
    assert unnamed == "same email address as support record 9"
