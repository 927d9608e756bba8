"""The billing ids CRM contacts name, kept for the billing pass in a temporary table."""

from __future__ import annotations

from app.store.customers import Store
from app.store.sync.xrefs import MemoryXrefs, TableXrefs
from kernel.identity import CustomerId

ADA, ALAN = CustomerId("cust_ada"), CustomerId("cust_alan")


async def test_a_loaded_page_answers_with_every_customer_naming_the_id(store: Store) -> None:
    async with store.pool.acquire() as conn:
        xrefs = TableXrefs(conn)
        await xrefs.reset()
        await xrefs.remember([("cus_1", ADA), ("cus_2", ALAN)])
        await xrefs.remember([("cus_1", ALAN), ("cus_1", ADA)])

        await xrefs.load(["cus_1", "cus_3"])

        assert xrefs.customers("cus_1") == {ADA, ALAN}
        assert xrefs.customers("cus_2") == set()  # not in the page loaded
        assert xrefs.customers("cus_3") == set()
        await xrefs.reset()


async def test_reset_leaves_nothing_on_the_connection_for_the_pools_next_user(
    store: Store,
) -> None:
    async with store.pool.acquire() as conn:
        xrefs = TableXrefs(conn)
        await xrefs.remember([("cus_1", ADA)])
        assert await conn.fetchval("select to_regclass('pg_temp.sync_billing_xrefs')") is not None

        await xrefs.reset()

        assert await conn.fetchval("select to_regclass('pg_temp.sync_billing_xrefs')") is None


async def test_a_new_run_starts_empty_even_if_the_last_one_left_its_table(store: Store) -> None:
    async with store.pool.acquire() as conn:
        await TableXrefs(conn).remember([("cus_1", ADA)])  # never reset: a crashed run
        later = TableXrefs(conn)

        await later.remember([("cus_2", ALAN)])
        await later.load(["cus_1", "cus_2"])

        assert (later.customers("cus_1"), later.customers("cus_2")) == (set(), {ALAN})
        await later.reset()


async def test_in_memory_pairs_need_no_loading() -> None:
    xrefs = MemoryXrefs()
    await xrefs.remember([("cus_1", ADA), ("cus_1", ALAN)])

    assert xrefs.customers("cus_1") == {ADA, ALAN}
    assert xrefs.customers("cus_2") == set()
