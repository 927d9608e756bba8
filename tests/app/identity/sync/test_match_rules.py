"""Match rules with confidence, and conflicts instead of merges (the linking engine)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.billing import linking as billing_linking
from adapters.crm import linking as crm_linking
from adapters.support import linking as support_linking
from app.identity.settings import IdentitySettings
from app.identity.sync.linking import FoundRecords, link_found_records
from app.identity.sync.runner import sync_identities
from app.store.customers import Store
from app.store.sync.session import SyncSession, live_session
from app.store.sync.values import PageWrite
from kernel.identity import CustomerId, CustomerRecord, IdentityLink
from kernel.models import Source
from tests.builders import billing_customer, crm_contact, support_user
from tests.conftest import customer_of
from tests.fake_systems import FakeSystems, holding, named_customers
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeSupportAdapter


async def sync(
    store: Store, systems: FakeSystems, settings: IdentitySettings | None = None
) -> None:
    await sync_identities(
        store,
        systems.by_source,
        settings or IdentitySettings(),
        full=True,
    )


def link_of(customer: CustomerRecord, source: Source) -> IdentityLink:
    link = customer.link_for(source)
    assert link is not None
    return link


async def reviews(store: Store) -> list[dict[str, Any]]:
    rows = await store.pool.fetch(
        "select kind, source, external_id, customer_ids, rules from identity_review order by id"
    )
    return [dict(row) for row in rows]


# --- confidence ----------------------------------------------------------------------------


async def test_each_link_stores_its_rule_confidence_and_that_the_sync_made_it(
    store: Store,
) -> None:
    await sync(store, named_customers())

    ada = await customer_of(store, Source.CRM, "1001")
    grace = await customer_of(store, Source.CRM, "1002")

    assert (link_of(ada, Source.CRM).matched_by, link_of(ada, Source.CRM).confidence) == (
        "anchor",
        1.0,
    )
    assert (link_of(ada, Source.BILLING).matched_by, link_of(ada, Source.BILLING).confidence) == (
        "xref",
        1.0,
    )
    assert link_of(grace, Source.BILLING).matched_by == "email"
    assert link_of(grace, Source.BILLING).confidence == pytest.approx(0.9)
    assert {link.linked_via for link in ada.links} == {"sync"}
    assert all(link.linked_at is not None for link in ada.links)


async def test_a_phone_link_has_the_phone_rule_confidence(store: Store) -> None:
    systems = holding(
        crm=FakeCrmAdapter([crm_contact("1", "Ann", "Lee", phone="+14155550111")]),
        billing=FakeBillingAdapter([billing_customer("cus_1", phone="(415) 555-0111")]),
    )

    await sync(store, systems)

    link = link_of(await customer_of(store, Source.CRM, "1"), Source.BILLING)
    assert link.matched_by == "phone"
    assert link.confidence == pytest.approx(0.7)


async def test_configured_confidences_are_the_ones_stored(store: Store) -> None:
    await sync(store, named_customers(), IdentitySettings(rule_confidence={"email": 0.5}))

    grace = await customer_of(store, Source.CRM, "1002")

    assert link_of(grace, Source.BILLING).confidence == pytest.approx(0.5)


def test_a_confidence_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="rule_confidence"):
        IdentitySettings(rule_confidence={"email": 1.5})


# --- conflicts, not merges -----------------------------------------------------------------


def two_customers_and_a_disagreeing_record() -> FakeSystems:
    """Billing cus_x: CRM 1 names it (xref -> A), but its email is CRM 2's (email -> B)."""
    return holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1", "Ann", "Able", email="ann@example.com", billing_id="cus_x"),
                crm_contact("2", "Bob", "Baker", email="bob@example.com"),
            ]
        ),
        billing=FakeBillingAdapter(
            [billing_customer("cus_x", "B. Baker", email="bob@example.com")]
        ),
    )


async def test_rules_pointing_at_two_customers_link_by_the_first_and_merge_nothing(
    store: Store,
) -> None:
    await sync(store, two_customers_and_a_disagreeing_record())

    ann = await customer_of(store, Source.CRM, "1")
    bob = await customer_of(store, Source.CRM, "2")

    assert ann.id != bob.id
    assert link_of(ann, Source.BILLING).matched_by == "xref"
    assert bob.links == (IdentityLink(Source.CRM, "2", "anchor"),)
    assert await store.count_customers() == 2


async def test_rules_pointing_at_two_customers_are_written_for_review(store: Store) -> None:
    await sync(store, two_customers_and_a_disagreeing_record())
    ann = await customer_of(store, Source.CRM, "1")
    bob = await customer_of(store, Source.CRM, "2")

    assert await reviews(store) == [
        {
            "kind": "rules_disagree",
            "source": "BILLING",
            "external_id": "cus_x",
            "customer_ids": [ann.id, bob.id],
            "rules": ["xref", "email"],
        }
    ]


async def test_an_ambiguous_email_is_written_for_review_with_every_candidate(
    store: Store,
) -> None:
    systems = holding(
        crm=FakeCrmAdapter(
            [
                crm_contact("1", "Kay", "One", email="same@example.com"),
                crm_contact("2", "Kay", "Two", email="same@example.com"),
            ]
        ),
        support=FakeSupportAdapter([support_user("9", "Kay", email="SAME@example.com")]),
    )

    await sync(store, systems)

    first = await customer_of(store, Source.CRM, "1")
    second = await customer_of(store, Source.CRM, "2")
    own = await customer_of(store, Source.SUPPORT, "9")
    assert own.id not in (first.id, second.id)
    [review] = await reviews(store)
    assert (review["kind"], review["external_id"], review["rules"]) == (
        "ambiguous",
        "9",
        ["email", "email"],
    )
    assert sorted(review["customer_ids"]) == sorted([first.id, second.id])


async def test_among_the_named_customers_only_katherines_shared_email_is_for_review(
    store: Store,
) -> None:
    await sync(store, named_customers())

    # Her billing and support records are linked to 1004 by xref, but the email they share
    # with both CRM contacts finds two customers; everyone else's rules agree.
    assert {(row["kind"], row["external_id"]) for row in await reviews(store)} == {
        ("ambiguous", "cus_katherine"),
        ("ambiguous", "9004"),
    }


async def test_a_rule_never_links_a_record_to_a_customer_it_was_unlinked_from(
    store: Store,
) -> None:
    crm = FakeCrmAdapter([crm_contact("1", "Ann", "Able", email="ann@example.com")])
    await sync(store, holding(crm=crm))
    ann = await customer_of(store, Source.CRM, "1")
    # A person decided billing cus_9 is not Ann, before billing's record reached the store.
    await store.pool.execute(
        "insert into identity_decisions (decision, source, external_id, customer_id, reason, "
        "decided_by) values ('unlink', 'BILLING', 'cus_9', $1, 'not her', 'sup-1')",
        ann.id,
    )
    billing = FakeBillingAdapter([billing_customer("cus_9", "Ann A", email="ann@example.com")])

    await sync(store, holding(crm=crm, billing=billing))

    own = await customer_of(store, Source.BILLING, "cus_9")
    assert own.id != ann.id
    assert link_of(own, Source.BILLING).matched_by == "anchor"


# --- concurrent linking --------------------------------------------------------------------


class LinkedMeanwhile:
    """A session whose first page write finds the record linked by someone else first."""

    def __init__(self, inner: SyncSession, store: Store, found: FoundRecords) -> None:
        self._inner = inner
        self._store = store
        self._found = found
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def write_page(self, page: PageWrite) -> None:
        self.writes += 1
        if self.writes == 1:
            async with live_session(self._store) as other:
                await link_found_records(other, IdentitySettings(), self._found, linked_via="live")
        await self._inner.write_page(page)


async def test_a_record_linked_meanwhile_keeps_that_link(store: Store) -> None:
    found = FoundRecords(
        {
            Source.CRM: [
                crm_linking.to_record(crm_contact("1", "Ann", "Able", email="ann@example.com"))
            ]
        }
    )

    async with live_session(store) as session:
        racing = LinkedMeanwhile(session, store, found)
        linked = await link_found_records(
            racing,  # type: ignore[arg-type]
            IdentitySettings(),
            found,
            linked_via="live",
        )

    winner = await customer_of(store, Source.CRM, "1")
    assert linked == {(Source.CRM, "1"): winner.id}
    assert racing.writes == 2
    assert await store.count_customers() == 1


async def test_records_found_live_are_linked_by_the_sync_rules(store: Store) -> None:
    contact = crm_contact("1", "Ann", "Able", email="ann@example.com", billing_id="cus_1")
    found = FoundRecords(
        {
            Source.CRM: [crm_linking.to_record(contact)],
            Source.BILLING: [billing_linking.to_record(billing_customer("cus_1", "Ann Able"))],
            Source.SUPPORT: [
                support_linking.to_record(support_user("9", "Ann", email="ANN@example.com"))
            ],
        }
    )

    async with live_session(store) as session:
        linked = await link_found_records(session, IdentitySettings(), found, linked_via="live")

    ann = await customer_of(store, Source.CRM, "1")
    assert set(linked.values()) == {CustomerId(ann.id)}
    assert {link.source: link.matched_by for link in ann.links} == {
        Source.CRM: "anchor",
        Source.BILLING: "xref",
        Source.SUPPORT: "email",
    }
    assert {link.linked_via for link in ann.links} == {"live"}
