"""The identity evidence, the data-quality report and the identity metrics, on a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from adapters.taxonomy import Taxonomy
from app.identity.data_quality import DataQuality, format_report_table
from app.identity.metrics import IdentityQualityCollector
from app.store.customers import Store
from app.store.identity import IdentityDecisionStore, ReviewRow, write_reviews
from app.store.identity_view import IdentityViewStore, LinkCounts
from app.store.sync.values import KeyRow, LookupKey, MatchedBy, NewCustomer, NewLink, PageWrite
from kernel.identity import CustomerId
from kernel.identity_evidence import MAX_CANDIDATES, ContactKey, ReviewLead, SharedKeyLead
from kernel.models import Source, TicketStatus

B, C, S = Source.BILLING, Source.CRM, Source.SUPPORT
ALAN, KJ, KJ2 = CustomerId("cust_alan"), CustomerId("cust_kj"), CustomerId("cust_kj2")
EDSGER, LONE = CustomerId("cust_edsger"), CustomerId("cust_lone")
T0 = datetime(2026, 11, 1, tzinfo=UTC)

# (source, record, customer, email, phone): the named customers' shape, normalised.
RECORDS = [
    (C, "1003", ALAN, "alan.turing@example.com", "+441614960311"),
    (C, "1004", KJ, "katherine.johnson@example.com", "+17575550142"),
    (C, "1005", KJ2, "katherine.johnson@example.com", None),
    (C, "1006", EDSGER, "edsger.dijkstra@example.com", "+15125550106"),
    (B, "cus_alan", ALAN, "alan.turing@example.com", None),
    (B, "cus_katherine", KJ, "katherine.johnson@example.com", "+17575550142"),
    (B, "cus_lone", LONE, "lone@example.net", None),
    (S, "9003", ALAN, "alan@turing.example", None),
]
NAMES = {
    ALAN: "Alan Turing",
    KJ: "Katherine Johnson",
    KJ2: "Katherine Johnson",
    EDSGER: "Edsger Dijkstra",
    LONE: "lone@example.net",
}


async def write_named(store: Store) -> None:
    """The customers above, written as the sync writes pages (oldest customer first)."""
    created: set[CustomerId] = set()
    async with store.sync_session() as session:
        for n, (source, record, customer, email, phone) in enumerate(RECORDS):
            at = T0 + timedelta(minutes=n)
            new = []
            if customer not in created:
                created.add(customer)
                new.append(
                    NewCustomer(customer, NAMES[customer], 0, f"{source.value}:{record}", at)
                )
            keys = [KeyRow(record, customer, LookupKey("email", email))]
            if phone:
                keys.append(KeyRow(record, customer, LookupKey("phone", phone)))
            matched: MatchedBy = "anchor" if new else "email"
            await session.write_page(
                PageWrite(
                    source=source,
                    customers=new,
                    links=[NewLink(record, customer, matched, at)],
                    keys_added=keys,
                )
            )


@pytest.fixture
async def named(store: Store) -> Store:
    await write_named(store)
    return store


async def record_review(store: Store, source: Source, row: ReviewRow) -> None:
    """A review row, as the linking engine records one beside the page that linked it."""
    async with store.pool.acquire() as conn:
        await write_reviews(conn, store.tenant, source, [row])


def placeholder(source: Source, external_id: str) -> tuple[str, int]:
    return f"{source.value} {external_id}", 9


# --- evidence for the graph --------------------------------------------------------------------


async def test_contact_keys_of_several_customers_come_in_the_order_their_records_were_linked(
    named: Store,
) -> None:
    keys = await IdentityViewStore(named).contact_keys([ALAN, EDSGER, CustomerId("nobody")])
    assert keys[ALAN] == (
        ContactKey("email", "alan.turing@example.com", C, "1003"),
        ContactKey("phone", "+441614960311", C, "1003"),
        ContactKey("email", "alan.turing@example.com", B, "cus_alan"),
        ContactKey("email", "alan@turing.example", S, "9003"),
    )
    assert set(keys) == {ALAN, EDSGER}


async def test_customers_sharing_a_key_are_leads_of_each_other_naming_the_records(
    named: Store,
) -> None:
    leads = await IdentityViewStore(named).duplicate_leads([KJ, KJ2, ALAN])
    assert leads[KJ] == (SharedKeyLead(KJ2, "email", C, "1005"),)
    assert leads[KJ2] == (
        SharedKeyLead(KJ, "email", B, "cus_katherine"),
        SharedKeyLead(KJ, "email", C, "1004"),
    )
    assert ALAN not in leads


async def test_a_review_row_makes_leads_between_the_customers_it_names_and_the_records_own(
    named: Store,
) -> None:
    await record_review(
        named, B, ReviewRow("cus_lone", "rules_disagree", (ALAN, EDSGER), ("xref", "email"))
    )
    leads = await IdentityViewStore(named).duplicate_leads([ALAN, LONE])
    assert leads[ALAN] == (
        ReviewLead(EDSGER, "rules_disagree", B, "cus_lone", ("xref", "email")),
        ReviewLead(LONE, "rules_disagree", B, "cus_lone", ("xref", "email")),
    )
    assert {lead.other for lead in leads[LONE]} == {ALAN, EDSGER}


async def test_customers_a_supervisor_decided_apart_are_not_leads(named: Store) -> None:
    # "cus_katherine is not this Katherine": it moves to a customer of its own, which still
    # shares the email with both Katherines, but is no lead of the one it was taken from.
    decisions = IdentityDecisionStore(named, placeholder)
    outcome = await decisions.unlink(
        B, "cus_katherine", KJ, CustomerId("cust_kj3"), "a namesake", "supervisor-1"
    )
    assert not isinstance(outcome, str)
    view = IdentityViewStore(named)
    leads = await view.duplicate_leads([KJ, CustomerId("cust_kj3")])
    assert {lead.other for lead in leads[KJ]} == {KJ2}
    assert {lead.other for lead in leads[CustomerId("cust_kj3")]} == {KJ2}
    assert await view.duplicate_pair_count() == 2


async def test_a_key_shared_by_very_many_gives_only_the_oldest_candidates(store: Store) -> None:
    # A switchboard number on MAX_CANDIDATES + 2 customers' records.
    many = [CustomerId(f"cust_{n:03d}") for n in range(MAX_CANDIDATES + 2)]
    async with store.sync_session() as session:
        await session.write_page(
            PageWrite(
                source=C,
                customers=[
                    NewCustomer(c, "Reception", 0, f"CRM:{n}", T0 + timedelta(seconds=n))
                    for n, c in enumerate(many)
                ],
                links=[NewLink(str(n), c, "anchor", T0) for n, c in enumerate(many)],
                keys_added=[
                    KeyRow(str(n), c, LookupKey("phone", "+442079460000"))
                    for n, c in enumerate(many)
                ],
            )
        )
    leads = await IdentityViewStore(store).duplicate_leads([many[-1]])
    assert [lead.other for lead in leads[many[-1]]] == many[:MAX_CANDIDATES]


# --- counts for the report and the metrics -----------------------------------------------------


async def test_conflicts_count_customers_whose_records_disagree_after_normalisation(
    named: Store,
) -> None:
    # Alan's support email differs; Katherine's records agree (one phone, one email).
    assert await IdentityViewStore(named).conflict_counts() == {"email": 1}


async def test_duplicate_pairs_are_counted_once_each(named: Store) -> None:
    view = IdentityViewStore(named)
    assert await view.duplicate_pair_count() == 1
    await record_review(named, S, ReviewRow("9003", "ambiguous", (ALAN, EDSGER), ("phone",)))
    # (Alan, Edsger) is new; the record's own customer is Alan, already in the row.
    assert await view.duplicate_pair_count() == 2


async def test_links_are_counted_per_source_with_those_that_stand_alone(named: Store) -> None:
    assert await IdentityViewStore(named).link_counts() == {
        C: LinkCounts(links=4, standalone=2),
        B: LinkCounts(links=3, standalone=1),
        S: LinkCounts(links=1, standalone=0),
    }


# --- the report ----------------------------------------------------------------------------------


async def test_the_report_counts_the_named_customers_as_they_are(named: Store) -> None:
    async with named.sync_session() as session:
        run = await session.start_run()
        await session.finish_run(
            run,
            "succeeded",
            {
                "CRM": {"seen": 4, "linked_new": 0, "customers_created": 4, "already_linked": 0},
                "BILLING": {"seen": 3, "linked_new": 2, "customers_created": 1},
                "SUPPORT": {"seen": 1, "linked_new": 1, "failed": 2},
            },
        )
    await record_review(named, B, ReviewRow("cus_lone", "ambiguous", (KJ, KJ2), ("email",)))
    tickets = Taxonomy(S, "ticket_status", {"open": "OPEN"}, TicketStatus)
    tickets.map("escalated")
    tickets.map("escalated")
    at = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    report = await DataQuality(named, lambda: [tickets], clock=lambda: at).data_quality_report()
    assert report.generated_at == at
    assert report.customers == 5
    assert [(q.source, q.links, q.standalone, q.awaiting_review) for q in report.sources] == [
        (C, 4, 2, 0),
        (B, 3, 1, 1),
        (S, 1, 0, 0),
        (Source.ORDERS, 0, 0, 0),
    ]
    syncs = [q.last_sync for q in report.sources]
    assert [(s.run_id, s.outcome, s.mode, s.seen, s.linked, s.failed) for s in syncs if s] == [
        (run, "succeeded", "full", 4, 4, 0),
        (run, "succeeded", "full", 3, 3, 0),
        (run, "succeeded", "full", 1, 1, 2),
    ]
    assert [(c.field, c.customers) for c in report.conflicts] == [("email", 1), ("phone", 0)]
    # Katherine and her CRM duplicate, plus cus_lone's customer with each of them.
    assert report.duplicate_candidates == 3
    assert [(w.source, w.field, w.word, w.count) for w in report.unmapped_words] == [
        (S, "ticket_status", "escalated", 2)
    ]


async def test_before_any_sync_the_report_has_no_last_sync(store: Store) -> None:
    report = await DataQuality(store, list).data_quality_report()
    assert report.customers == 0
    assert [q.last_sync for q in report.sources] == [None, None, None, None]
    assert report.duplicate_candidates == 0


async def test_the_table_for_the_command_line_shows_every_source_and_no_personal_value(
    named: Store,
) -> None:
    table = format_report_table(await DataQuality(named, list).data_quality_report())
    lines = table.splitlines()
    assert lines[1].split() == [
        "source", "links", "standalone", "review", "seen", "linked", "failed", "outcome"
    ]  # fmt: skip
    assert lines[2].split()[:7] == ["CRM", "4", "2", "0", "-", "-", "-"]
    assert lines[2].endswith("not in the last sync")
    assert lines[5].split()[0] == "ORDERS"
    assert lines[6] == (
        "5 customers; 1 with conflicting emails, 0 with conflicting phones; "
        "possible duplicates: 1 pair of customers"
    )
    assert "@" not in table


async def test_orphans_are_a_joining_sources_standalone_records_named_by_its_record_noun(
    named: Store,
) -> None:
    # An order that matches no one: its reference becomes a customer of its own.
    orphan = CustomerId("cust_orphan")
    async with named.sync_session() as session:
        await session.write_page(
            PageWrite(
                source=Source.ORDERS,
                customers=[NewCustomer(orphan, "01632 960000", 0, "ORDERS:01632 960000", T0)],
                links=[NewLink("01632 960000", orphan, "anchor", T0)],
                keys_added=[],
            )
        )

    report = await DataQuality(named, list).data_quality_report()

    labels = {q.source: (q.orphans_label, q.orphans) for q in report.sources}
    assert labels == {
        # CRM contacts anchor customers: one no other system knows is no orphan.
        C: (None, None),
        B: ("orphan billing customers", 1),
        S: ("orphan support users", 0),
        Source.ORDERS: ("orphan orders customer references", 1),
    }
    assert format_report_table(report).splitlines()[-2] == (
        "records that match no customer of another system: orphan billing customers: 1; "
        "orphan support users: 0; orphan orders customer references: 1"
    )


# --- metrics -------------------------------------------------------------------------------------


async def test_the_identity_gauges_are_read_from_the_store_at_most_once_per_interval(
    named: Store,
) -> None:
    now = [1000.0]
    collector = IdentityQualityCollector(refresh_seconds=60, clock=lambda: now[0])
    registry = CollectorRegistry()
    registry.register(collector)
    assert b"scv_identity" not in generate_latest(registry)

    view = IdentityViewStore(named)
    await collector.refresh(view)
    await record_review(named, S, ReviewRow("9003", "ambiguous", (ALAN, EDSGER), ("phone",)))
    now[0] += 59
    await collector.refresh(view)
    text = generate_latest(registry).decode()
    assert 'scv_identity_conflicts{field="email"} 1.0' in text
    assert 'scv_identity_conflicts{field="phone"} 0.0' in text
    assert "scv_identity_duplicate_candidates 1.0" in text

    now[0] += 1
    await collector.refresh(view)
    assert "scv_identity_duplicate_candidates 2.0" in generate_latest(registry).decode()
