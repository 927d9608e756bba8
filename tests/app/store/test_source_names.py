"""Source names are data: no table constrains which sources exist; the registry decides."""

from __future__ import annotations

from app.store.customers import Store

SOURCE_CHECKS = """
select conrelid::regclass::text as table_name
  from pg_constraint
 where contype = 'c' and pg_get_constraintdef(oid) ilike '%source%'
 order by 1
"""


async def test_no_table_constrains_the_names_of_sources(store: Store) -> None:
    async with store.pool.acquire() as conn:
        constrained = [row["table_name"] for row in await conn.fetch(SOURCE_CHECKS)]

    assert constrained == []


async def test_a_link_of_a_newly_registered_source_is_stored(store: Store) -> None:
    async with store.pool.acquire() as conn:
        await conn.execute(
            "insert into customers (id, display_name, display_rank, display_ref)"
            " values ('cus-1', 'Ada Lovelace', 0, 'CRM:1')"
        )
        await conn.execute(
            "insert into identity_links (customer_id, source, external_id, matched_by)"
            " values ('cus-1', 'ORDERS', 'ACC-0001', 'email')"
        )
        stored = await conn.fetchval(
            "select source from identity_links where customer_id = 'cus-1'"
        )

    assert stored == "ORDERS"
