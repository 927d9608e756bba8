"""The identity store against a real PostgreSQL: its lookups and its batch writes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from app.store.customers import Store
from app.store.identity import LinkConflict
from app.store.sync.values import (
    DisplayName,
    KeyRow,
    LinkedRecord,
    LookupKey,
    MatchedBy,
    NewCustomer,
    NewLink,
    PageWrite,
)
from kernel.identity import CustomerId, IdentityLink, IdentityStore
from kernel.models import Source

T0 = datetime(2024, 1, 1, tzinfo=UTC)
ADA = CustomerId("cust_ada")
GRACE = CustomerId("cust_grace")
ALAN = CustomerId("cust_alan")


async def add_customer(
    store: Store,
    customer_id: CustomerId,
    name: str,
    *,
    created_at: datetime = T0,
    display_rank: int = 0,
    records: Sequence[tuple[Source, str, MatchedBy, Sequence[LookupKey]]] = (),
) -> None:
    """Create a customer, then link ``records`` (source, id, rule, keys) to it one by one."""
    async with store.sync_session() as session:
        await session.write_page(
            PageWrite(
                source=Source.CRM,
                customers=[
                    NewCustomer(customer_id, name, display_rank, f"CRM:{customer_id}", created_at)
                ],
            )
        )
        for n, (source, external_id, rule, keys) in enumerate(records, start=1):
            linked_at = created_at + timedelta(seconds=n)
            await session.write_page(
                PageWrite(
                    source=source,
                    links=[NewLink(external_id, customer_id, rule, linked_at)],
                    keys_added=[KeyRow(external_id, customer_id, key) for key in keys],
                )
            )


def email(value: str) -> LookupKey:
    return LookupKey("email", value)


def phone(value: str) -> LookupKey:
    return LookupKey("phone", value)


async def test_store_implements_the_identity_store_protocol(store: Store) -> None:
    identity: IdentityStore = store
    assert await identity.get_customers([]) == {}


# --- reads ---------------------------------------------------------------------------------


async def test_get_customers_returns_every_asked_customer_with_its_links(store: Store) -> None:
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        records=[
            (Source.CRM, "1001", "anchor", [email("ada@example.com")]),
            (Source.BILLING, "cus_ada", "xref", []),
            (Source.SUPPORT, "9001", "email", []),
        ],
    )
    await add_customer(store, GRACE, "Grace Hopper", records=[(Source.CRM, "1002", "anchor", [])])
    await add_customer(store, ALAN, "Alan Turing")

    found = await store.get_customers([ADA, GRACE, ALAN])

    assert set(found) == {ADA, GRACE, ALAN}
    assert found[ADA].display_name == "Ada Lovelace"
    assert found[ADA].links == (
        IdentityLink(Source.CRM, "1001", "anchor"),
        IdentityLink(Source.BILLING, "cus_ada", "xref"),
        IdentityLink(Source.SUPPORT, "9001", "email"),
    )
    assert found[GRACE].links == (IdentityLink(Source.CRM, "1002", "anchor"),)
    assert found[ALAN].links == ()


async def test_get_customers_leaves_unknown_ids_out(store: Store) -> None:
    await add_customer(store, ADA, "Ada Lovelace")

    found = await store.get_customers([ADA, CustomerId("cust_nobody"), ADA])

    assert list(found) == [ADA]


async def test_find_by_email_lists_the_oldest_customer_first(store: Store) -> None:
    await add_customer(
        store,
        GRACE,
        "Grace Hopper",
        created_at=T0 + timedelta(days=1),
        records=[(Source.CRM, "1002", "anchor", [email("shared@example.com")])],
    )
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        created_at=T0,
        records=[(Source.CRM, "1001", "anchor", [email("shared@example.com")])],
    )

    assert await store.find_by_email("shared@example.com") == [ADA, GRACE]
    first = await store.first_by_email("shared@example.com")
    assert first is not None
    assert (first.id, first.display_name) == (ADA, "Ada Lovelace")
    assert first.links == (IdentityLink(Source.CRM, "1001", "anchor"),)
    assert await store.first_by_email("nobody@example.com") is None


async def test_find_by_phone_orders_customers_created_together_by_id(store: Store) -> None:
    for customer, crm_id in ((GRACE, "1002"), (ALAN, "1003"), (ADA, "1001")):
        await add_customer(
            store,
            customer,
            customer,
            records=[(Source.CRM, crm_id, "anchor", [phone("+14155550101")])],
        )

    assert await store.find_by_phone("+14155550101") == [ADA, ALAN, GRACE]
    first = await store.first_by_phone("+14155550101")
    assert first == (await store.get_customers([ADA]))[ADA]
    assert await store.first_by_phone("+14155550199") is None


async def test_the_first_customer_by_a_key_comes_with_all_its_links_in_order(
    store: Store,
) -> None:
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        records=[
            (Source.CRM, "1001", "anchor", [email("ada@example.com")]),
            (Source.BILLING, "cus_ada", "xref", []),
            (Source.SUPPORT, "9001", "email", [phone("+442079460018")]),
        ],
    )
    await add_customer(store, GRACE, "Grace Hopper", records=[(Source.CRM, "1002", "anchor", [])])

    by_email = await store.first_by_email("ada@example.com")
    by_phone = await store.first_by_phone("+442079460018")

    assert by_email == by_phone == (await store.get_customers([ADA]))[ADA]
    assert by_email is not None
    assert [link.external_id for link in by_email.links] == ["1001", "cus_ada", "9001"]


async def test_find_by_email_lists_a_customer_once_however_many_records_share_it(
    store: Store,
) -> None:
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        records=[
            (Source.CRM, "1001", "anchor", [email("ada@example.com")]),
            (Source.BILLING, "cus_ada", "email", [email("ada@example.com")]),
        ],
    )

    assert await store.find_by_email("ada@example.com") == [ADA]


async def test_find_by_key_does_not_mix_emails_and_phones(store: Store) -> None:
    await add_customer(
        store, ADA, "Ada Lovelace", records=[(Source.CRM, "1001", "anchor", [email("+4420")])]
    )

    assert await store.find_by_phone("+4420") == []
    assert await store.find_by_email("nobody@example.com") == []


async def test_find_by_source_id_returns_the_linked_customer(store: Store) -> None:
    await add_customer(
        store, ADA, "Ada Lovelace", records=[(Source.BILLING, "cus_ada", "xref", [])]
    )

    assert await store.find_by_source_id(Source.BILLING, "cus_ada") == ADA
    assert await store.find_by_source_id(Source.SUPPORT, "cus_ada") is None
    assert await store.find_by_source_id(Source.BILLING, "cus_nobody") is None


# --- batch writes --------------------------------------------------------------------------


async def test_linked_records_come_with_their_customer_name_and_keys(store: Store) -> None:
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        records=[
            (Source.CRM, "1001", "anchor", [email("ada@example.com"), phone("+4420")]),
            (Source.CRM, "1009", "anchor", []),
        ],
    )

    async with store.sync_session() as session:
        found = await session.linked_records(Source.CRM, ["1001", "1009", "1010"])

    name = DisplayName(ADA, "Ada Lovelace", 0, f"CRM:{ADA}")
    assert found == {
        "1001": LinkedRecord(ADA, name, frozenset({email("ada@example.com"), phone("+4420")})),
        "1009": LinkedRecord(ADA, name, frozenset()),
    }


async def test_removed_keys_no_longer_find_the_customer(store: Store) -> None:
    await add_customer(
        store,
        ADA,
        "Ada Lovelace",
        records=[(Source.CRM, "1001", "anchor", [email("old@example.com"), phone("+4420")])],
    )

    async with store.sync_session() as session:
        await session.write_page(
            PageWrite(
                Source.CRM,
                keys_removed=[KeyRow("1001", ADA, email("old@example.com"))],
                keys_added=[KeyRow("1001", ADA, email("new@example.com"))],
            )
        )

    assert await store.find_by_email("old@example.com") == []
    assert await store.find_by_phone("+4420") == [ADA]
    assert await store.find_by_email("new@example.com") == [ADA]


async def test_display_name_is_replaced_only_by_a_better_ranked_name(store: Store) -> None:
    await add_customer(store, ADA, "ada@example.com", display_rank=4)

    async with store.sync_session() as session:
        for rank in (4, 5):  # as good, and worse, from another record
            other = DisplayName(ADA, "someone@example.com", rank, "SUPPORT:9001")
            await session.write_page(PageWrite(Source.SUPPORT, names=[other]))
    assert (await store.get_customers([ADA]))[ADA].display_name == "ada@example.com"

    async with store.sync_session() as session:
        better = DisplayName(ADA, "Ada Lovelace", 2, "SUPPORT:9001")
        await session.write_page(PageWrite(Source.SUPPORT, names=[better]))
    assert (await store.get_customers([ADA]))[ADA].display_name == "Ada Lovelace"


async def test_the_record_that_named_a_customer_can_rename_it(store: Store) -> None:
    await add_customer(store, ADA, "Ada Byron")

    async with store.sync_session() as session:
        await session.write_page(
            PageWrite(Source.CRM, names=[DisplayName(ADA, "Ada Lovelace", 0, f"CRM:{ADA}")])
        )

    assert (await store.get_customers([ADA]))[ADA].display_name == "Ada Lovelace"


async def test_a_page_is_written_all_or_nothing(store: Store) -> None:
    await add_customer(store, ADA, "Ada Lovelace", records=[(Source.CRM, "1001", "anchor", [])])
    page = PageWrite(
        Source.CRM,
        customers=[NewCustomer(GRACE, "Grace Hopper", 0, "CRM:1002", T0)],
        # 1001 is linked already: the primary key refuses it, and the page with it.
        links=[NewLink("1002", GRACE, "anchor", T0), NewLink("1001", GRACE, "anchor", T0)],
    )

    async with store.sync_session() as session:
        with pytest.raises(LinkConflict):
            await session.write_page(page)

    assert await store.get_customers([GRACE]) == {}
    assert await store.find_by_source_id(Source.CRM, "1002") is None


async def test_sync_runs_are_recorded_with_outcome_and_counts(store: Store) -> None:
    assert await store.latest_sync_run() is None
    async with store.sync_session() as session:
        run_id = await session.start_run()
        await session.finish_run(run_id, "succeeded", {"CRM": {"seen": 7}})

    run = await store.latest_sync_run()

    assert run is not None
    assert (run.id, run.outcome, run.counts) == (run_id, "succeeded", {"CRM": {"seen": 7}})
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at


async def test_a_second_sync_session_waits_for_the_first(store: Store) -> None:
    second_entered = asyncio.Event()

    async def second() -> None:
        async with store.sync_session():
            second_entered.set()

    async with store.sync_session():
        waiting = asyncio.create_task(second())
        await asyncio.sleep(0.2)
        assert not second_entered.is_set()
    await asyncio.wait_for(waiting, timeout=10)
    assert second_entered.is_set()


async def test_ping_is_true_while_the_store_answers(store: Store) -> None:
    assert await store.ping() is True


async def test_ping_is_false_once_the_pool_is_closed(database_url: str) -> None:
    closed = await Store.connect(database_url, pool_size=1)
    await closed.close()
    assert await closed.ping() is False


async def _session_state_of_every_pooled_connection(store: Store) -> list[tuple[int, str]]:
    """(advisory locks held, plan_cache_mode) of each connection of the pool, all held at once
    so that the one a block used is among them."""
    connections = [await store.pool.acquire() for _ in range(store.pool.get_max_size())]
    try:
        return [
            (
                await conn.fetchval(
                    "select count(*) from pg_locks"
                    " where locktype = 'advisory' and pid = pg_backend_pid()"
                ),
                await conn.fetchval("show plan_cache_mode"),
            )
            for conn in connections
        ]
    finally:
        for conn in connections:
            await store.pool.release(conn)


async def test_a_sync_session_leaves_no_lock_or_setting_on_its_pooled_connection(
    store: Store,
) -> None:
    async with store.sync_session():
        pass
    with pytest.raises(RuntimeError):
        async with store.sync_session():
            raise RuntimeError("the sync failed half way")
    # The pool does not reset connections itself (one round trip per query saved), so
    # the block must have: no connection inherits the sync's lock or its setting.
    states = await _session_state_of_every_pooled_connection(store)
    assert states == [(0, "auto")] * store.pool.get_max_size()
    async with asyncio.timeout(10):
        async with store.sync_session():
            pass
