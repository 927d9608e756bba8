"""The identity sync over the named customers: who ends up linked to whom, and by which rule."""

from __future__ import annotations

from app.identity.sync.report import SourceCounts
from app.store.customers import Store
from kernel.identity import IdentityLink
from kernel.models import Source
from kernel.normalize import normalize_phone
from tests.app.identity.sync.sync_kit import link_rules, sync
from tests.builders import crm_contact, support_user
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, holding
from tests.fakes import FakeCrmAdapter, FakeSupportAdapter

# --- the named customers -------------------------------------------------------------------


async def test_ada_is_one_customer_linked_in_all_three_systems(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    ada = await customer_of(store, Source.CRM, "1001")

    assert ada.display_name == "Ada Lovelace"
    assert ada.links == (
        IdentityLink(Source.CRM, "1001", "anchor"),
        IdentityLink(Source.BILLING, "cus_ada", "xref"),
        IdentityLink(Source.SUPPORT, "9001", "xref"),
    )


async def test_grace_is_found_by_each_of_her_three_phone_formats(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)
    grace = await customer_of(store, Source.CRM, "1002")

    for written in ("(415) 555-0101", "+14155550101", "415.555.0101"):
        e164 = normalize_phone(written, "US")
        assert e164 is not None
        assert await store.find_by_phone(e164) == [grace.id], written
    assert link_rules(grace) == {
        Source.CRM: "anchor",
        Source.BILLING: "email",
        Source.SUPPORT: "email",
    }


async def test_alan_billing_is_linked_by_email_whatever_its_case(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    alan = await customer_of(store, Source.CRM, "1003")

    assert alan.link_for(Source.BILLING) == IdentityLink(Source.BILLING, "cus_alan", "email")


async def test_alan_support_is_linked_by_its_external_id(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    alan = await customer_of(store, Source.CRM, "1003")

    assert alan.link_for(Source.SUPPORT) == IdentityLink(Source.SUPPORT, "9003", "xref")
    assert await store.find_by_email("alan.turing@example.com") == [alan.id]
    assert await store.find_by_email("alan@turing.example") == [alan.id]


async def test_katherine_crm_duplicates_stay_two_customers(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    first = await customer_of(store, Source.CRM, "1004")
    second = await customer_of(store, Source.CRM, "1005")

    assert first.id != second.id
    assert await store.find_by_email("katherine.johnson@example.com") == [first.id, second.id]


async def test_billing_is_linked_to_the_crm_contact_that_names_it(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    katherine = await customer_of(store, Source.CRM, "1004")

    assert katherine.link_for(Source.BILLING) == IdentityLink(
        Source.BILLING, "cus_katherine", "xref"
    )


async def test_an_ambiguous_email_falls_through_to_the_next_rule(
    store: Store, systems: FakeSystems
) -> None:
    report = await sync(store, systems)

    katherine = await customer_of(store, Source.CRM, "1004")

    assert katherine.link_for(Source.SUPPORT) == IdentityLink(Source.SUPPORT, "9004", "phone")
    assert report.for_source(Source.SUPPORT).ambiguous == 1


async def test_an_ambiguous_email_alone_links_nobody(store: Store) -> None:
    systems = holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1004", "Katherine", "Johnson", email="kj@example.com"),
                crm_contact("1005", "Katherine", "Johnson", email="KJ@example.com"),
            ]
        ),
        support=FakeSupportAdapter([support_user("9004", "K. Johnson", email="kj@example.com")]),
    )

    report = await sync(store, systems)

    user = await customer_of(store, Source.SUPPORT, "9004")
    assert user.links == (IdentityLink(Source.SUPPORT, "9004", "anchor"),)
    assert report.for_source(Source.SUPPORT) == SourceCounts(
        seen=1, customers_created=1, ambiguous=1
    )
    assert report.total_customers == 3


async def test_edsger_in_the_crm_only_is_a_customer_of_his_own(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)

    edsger = await customer_of(store, Source.CRM, "1006")

    assert edsger.links == (IdentityLink(Source.CRM, "1006", "anchor"),)
    assert edsger.display_name == "Edsger Dijkstra"


async def test_the_named_customers_make_seven_customers(store: Store, systems: FakeSystems) -> None:
    report = await sync(store, systems)

    assert report.total_customers == 7
    assert report.for_source(Source.CRM) == SourceCounts(seen=7, customers_created=7)
    assert report.for_source(Source.BILLING) == SourceCounts(seen=5, linked_new=5)
    assert report.for_source(Source.SUPPORT) == SourceCounts(seen=5, linked_new=5, ambiguous=1)
