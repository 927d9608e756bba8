"""The records the sync's records name, kept for the named source's pass in a temporary
table."""

from __future__ import annotations

from app.store.customers import Store
from app.store.sync.xrefs import MemoryXrefs, TableXrefs
from kernel.identity import CustomerId
from kernel.models import Source

ADA, ALAN = CustomerId("cust_ada"), CustomerId("cust_alan")
BILLING, SUPPORT = Source.BILLING, Source.SUPPORT


async def test_a_loaded_page_answers_with_every_customer_naming_the_id(store: Store) -> None:
    async with store.pool.acquire() as conn:
        xrefs = TableXrefs(conn)
        await xrefs.reset()
        await xrefs.remember([(BILLING, "cus_1", ADA), (BILLING, "cus_2", ALAN)])
        await xrefs.remember([(BILLING, "cus_1", ALAN), (BILLING, "cus_1", ADA)])

        await xrefs.load(BILLING, ["cus_1", "cus_3"])

        assert xrefs.customers(BILLING, "cus_1") == {ADA, ALAN}
        assert xrefs.customers(BILLING, "cus_2") == set()  # not in the page loaded
        assert xrefs.customers(BILLING, "cus_3") == set()
        await xrefs.reset()


async def test_the_same_id_named_in_another_source_is_another_record(store: Store) -> None:
    async with store.pool.acquire() as conn:
        xrefs = TableXrefs(conn)
        await xrefs.reset()
        await xrefs.remember([(BILLING, "42", ADA), (SUPPORT, "42", ALAN)])

        await xrefs.load(SUPPORT, ["42"])

        assert xrefs.customers(SUPPORT, "42") == {ALAN}
        assert xrefs.customers(BILLING, "42") == set()  # not the source loaded
        await xrefs.reset()


async def test_reset_leaves_nothing_on_the_connection_for_the_pools_next_user(
    store: Store,
) -> None:
    async with store.pool.acquire() as conn:
        xrefs = TableXrefs(conn)
        await xrefs.remember([(BILLING, "cus_1", ADA)])
        assert await conn.fetchval("select to_regclass('pg_temp.sync_xrefs')") is not None

        await xrefs.reset()

        assert await conn.fetchval("select to_regclass('pg_temp.sync_xrefs')") is None


async def test_a_new_run_starts_empty_even_if_the_last_one_left_its_table(store: Store) -> None:
    async with store.pool.acquire() as conn:
        await TableXrefs(conn).remember([(BILLING, "cus_1", ADA)])  # never reset: a crash
        later = TableXrefs(conn)

        await later.remember([(BILLING, "cus_2", ALAN)])
        await later.load(BILLING, ["cus_1", "cus_2"])

        assert (later.customers(BILLING, "cus_1"), later.customers(BILLING, "cus_2")) == (
            set(),
            {ALAN},
        )
        await later.reset()


async def test_in_memory_pairs_need_no_loading() -> None:
    xrefs = MemoryXrefs()
    await xrefs.remember([(BILLING, "cus_1", ADA), (BILLING, "cus_1", ALAN)])

    assert xrefs.customers(BILLING, "cus_1") == {ADA, ALAN}
    assert xrefs.customers(BILLING, "cus_2") == set()
    assert xrefs.customers(SUPPORT, "cus_1") == set()
