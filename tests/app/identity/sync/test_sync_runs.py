"""The identity sync run after run: a second run, records new since the last, customers' names,
records of one page linked to each other."""

from __future__ import annotations

from app.identity.sync.report import SourceCounts
from app.store.customers import Store
from kernel.identity import IdentityLink
from kernel.models import Source
from tests.app.identity.sync.sync_kit import sync
from tests.builders import billing_customer, crm_contact, support_user
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, holding
from tests.fakes import FakeBillingAdapter, FakeSupportAdapter

# --- runs ----------------------------------------------------------------------------------


async def test_a_second_run_creates_and_links_nothing(store: Store, systems: FakeSystems) -> None:
    first = await sync(store, systems)
    ids = [await customer_of(store, Source.CRM, contact) for contact in ("1001", "1004", "1006")]

    second = await sync(store, systems)

    for source in (Source.CRM, Source.BILLING, Source.SUPPORT):
        counts = second.for_source(source)
        assert (counts.linked_new, counts.customers_created) == (0, 0), source
        assert counts.already_linked == counts.seen == first.for_source(source).seen
    assert second.total_customers == first.total_customers
    assert await store.get_customers([c.id for c in ids]) == {c.id: c for c in ids}


async def test_a_record_new_since_the_last_run_joins_its_customer(
    store: Store, systems: FakeSystems
) -> None:
    await sync(store, systems)
    late = billing_customer("cus_edsger", "E. W. Dijkstra", email="Edsger.Dijkstra@example.com")
    systems.billing.customers[late.id] = late

    report = await sync(store, systems)

    edsger = await customer_of(store, Source.CRM, "1006")
    assert edsger.link_for(Source.BILLING) == IdentityLink(Source.BILLING, "cus_edsger", "email")
    assert edsger.display_name == "Edsger Dijkstra"
    assert report.for_source(Source.BILLING).linked_new == 1


async def test_records_in_one_system_only_create_customers_named_from_it(store: Store) -> None:
    systems = holding(
        billing=FakeBillingAdapter([billing_customer("cus_1", "Billie Only", email="b@x.example")]),
        support=FakeSupportAdapter([support_user("9", "Sue Only", email="s@x.example")]),
    )

    report = await sync(store, systems)

    assert (await customer_of(store, Source.BILLING, "cus_1")).display_name == "Billie Only"
    assert (await customer_of(store, Source.SUPPORT, "9")).display_name == "Sue Only"
    assert report.total_customers == 2


async def test_display_name_falls_back_to_a_linked_support_name_then_the_email(
    store: Store,
) -> None:
    systems = holding(
        billing=FakeBillingAdapter(
            [
                billing_customer("cus_1", None, email="Nameless@X.example"),
                billing_customer("cus_2", None, email="named.later@x.example"),
            ]
        ),
        support=FakeSupportAdapter(
            [support_user("9", "Later Name", email="named.later@x.example")]
        ),
    )

    await sync(store, systems)

    assert (await customer_of(store, Source.BILLING, "cus_1")).display_name == "Nameless@X.example"
    assert (await customer_of(store, Source.BILLING, "cus_2")).display_name == "Later Name"


async def test_a_rename_in_the_crm_renames_the_customer(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems)
    systems.crm.contacts["1006"] = crm_contact(
        "1006", "Edsger W.", "Dijkstra", email="edsger.dijkstra@example.com"
    )

    await sync(store, systems)

    assert (await customer_of(store, Source.CRM, "1006")).display_name == "Edsger W. Dijkstra"


async def test_a_name_added_later_to_a_linked_record_names_the_customer(store: Store) -> None:
    systems = holding(
        billing=FakeBillingAdapter([billing_customer("cus_1", None, email="sue@x.example")]),
        support=FakeSupportAdapter([support_user("9", None, email="sue@x.example")]),
    )
    await sync(store, systems)
    systems.support.users["9"] = support_user("9", "Sue Storm", email="sue@x.example")

    await sync(store, systems)

    assert (await customer_of(store, Source.BILLING, "cus_1")).display_name == "Sue Storm"


async def test_two_new_records_of_one_page_link_to_each_other(store: Store) -> None:
    systems = holding(
        support=FakeSupportAdapter(
            [
                support_user("1", "Twin", email="twin@x.example"),
                support_user("2", "Twin", email="TWIN@x.example"),
            ],
            page_size=10,
        )
    )

    report = await sync(store, systems)

    first = await customer_of(store, Source.SUPPORT, "1")
    assert first.links == (
        IdentityLink(Source.SUPPORT, "1", "anchor"),
        IdentityLink(Source.SUPPORT, "2", "email"),
    )
    assert report.for_source(Source.SUPPORT) == SourceCounts(
        seen=2, linked_new=1, customers_created=1
    )
