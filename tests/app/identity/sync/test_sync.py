"""The identity sync over fake systems: who ends up linked to whom, and by which rule."""

from __future__ import annotations

import pytest

from app.identity.settings import IdentitySettings, MatchRule
from app.identity.sync.report import SourceCounts, SyncReport
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from kernel.errors import UpstreamUnavailable
from kernel.identity import CustomerRecord, IdentityLink
from kernel.models import Source
from kernel.normalize import normalize_phone
from tests.builders import billing_customer, crm_contact, support_user
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, holding, named_customers
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter

DEFAULT_RULES = IdentitySettings()


@pytest.fixture
def systems() -> FakeSystems:
    # Two records a page, so that every source is read over several pages.
    return named_customers(page_size=2)


async def sync(
    store: Store,
    systems: FakeSystems,
    rules: tuple[MatchRule, ...] = DEFAULT_RULES.match_rules,
) -> SyncReport:
    # Full passes: these tests are about linking; incremental reads are
    # tests/app/test_incremental_sync.py's.
    return await sync_identities(
        store,
        systems.by_source,
        IdentitySettings(match_rules=rules),
        full=True,
    )


def link_rules(customer: CustomerRecord) -> dict[Source, str]:
    return {link.source: link.matched_by for link in customer.links}


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


# --- reporting -----------------------------------------------------------------------------


async def test_progress_is_reported_after_every_page(store: Store, systems: FakeSystems) -> None:
    seen: list[tuple[Source, int]] = []

    await sync_identities(
        store,
        systems.by_source,
        DEFAULT_RULES,
        progress=lambda s, n: seen.append((s, n)),
    )

    assert seen == [
        (Source.CRM, 2),
        (Source.CRM, 4),
        (Source.CRM, 6),
        (Source.CRM, 7),
        (Source.BILLING, 2),
        (Source.BILLING, 4),
        (Source.BILLING, 5),
        (Source.SUPPORT, 2),
        (Source.SUPPORT, 4),
        (Source.SUPPORT, 5),
    ]


async def test_each_page_is_fetched_once(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems)

    assert systems.crm.calls == {"iter_contacts": 4}
    assert systems.billing.calls == {"iter_customers": 3}
    assert systems.support.calls == {"iter_users": 3}


async def test_the_run_is_recorded_with_its_counts(store: Store, systems: FakeSystems) -> None:
    report = await sync(store, systems)

    run = await store.latest_sync_run()

    assert run is not None
    assert (run.id, run.outcome) == (report.run_id, "succeeded")
    assert run.counts["BILLING"]["linked_new"] == 5


async def test_a_failing_source_fails_the_run_and_keeps_what_was_written(
    store: Store, systems: FakeSystems
) -> None:
    systems.billing.errors["iter_customers"] = UpstreamUnavailable(Source.BILLING, "down")

    with pytest.raises(UpstreamUnavailable):
        await sync(store, systems)

    run = await store.latest_sync_run()
    assert run is not None
    assert run.outcome == "failed"
    assert run.counts["CRM"]["customers_created"] == 7
    assert await store.find_by_source_id(Source.CRM, "1007") is not None


async def test_pages_written_before_an_upstream_failure_stay_linked(
    store: Store, systems: FakeSystems
) -> None:
    systems.billing.errors["iter_customers"] = UpstreamUnavailable(Source.BILLING, "down")
    systems.billing.errors_after["iter_customers"] = 1

    with pytest.raises(UpstreamUnavailable):
        await sync(store, systems)

    run = await store.latest_sync_run()
    assert run is not None
    assert run.counts["BILLING"]["seen"] == 2
    assert await store.find_by_source_id(Source.BILLING, "cus_grace") is not None
    assert await store.find_by_source_id(Source.BILLING, "cus_alan") is None


async def test_the_report_table_has_a_row_per_source_and_the_total(
    store: Store, systems: FakeSystems
) -> None:
    report = await sync(store, systems)

    lines = report.format_table().splitlines()

    assert lines[0].split() == [
        "source",
        "seen",
        "linked_new",
        "already_linked",
        "customers_created",
        "ambiguous",
        "skipped_invalid",
    ]
    assert lines[1].split() == ["CRM", "7", "0", "0", "7", "0", "0"]
    assert lines[2].split()[0] == "BILLING"
    assert lines[3].split()[0] == "SUPPORT"
    assert lines[4].split() == ["ORDERS", "0", "0", "0", "0", "0", "0"]
    assert lines[5].startswith("7 customers in total")


def test_the_report_has_no_counts_for_the_ivr() -> None:
    report = SyncReport(
        1,
        {
            Source.CRM: SourceCounts(),
            Source.BILLING: SourceCounts(),
            Source.SUPPORT: SourceCounts(),
        },
        0,
        0.0,
    )

    assert report.for_source(Source.IVR) == SourceCounts()


async def test_customer_ids_are_opaque_and_prefixed(store: Store, systems: FakeSystems) -> None:
    await sync(store, systems)

    ada = await customer_of(store, Source.CRM, "1001")

    assert ada.id.startswith("cust_")
    assert len(ada.id) == len("cust_") + 16
