"""The orders adapter over the sandbox's legacy database: real PostgreSQL through the
read-only role, and the same orders in SQLite read by settings alone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.connection import Connection
from adapters.orders.client import SqlOrdersAdapter, open_orders_adapter
from adapters.orders.port import OrdersCustomerRef, OrderStatus
from adapters.orders.settings import OrdersSettings
from adapters.sql.schema import MissingSchemaError
from kernel.errors import UpstreamContractError, UpstreamTimeout, UpstreamUnavailable
from kernel.models import Money
from sandbox.orders.postgres import READER
from tests.adapters.orders.legacy_databases import (
    ADA_REF,
    BARBARA_REF,
    postgres_orders,
    sqlite_orders,
)

ADA = OrdersCustomerRef(ADA_REF)
SLOW_VIEW = """
CREATE OR REPLACE VIEW "V_SLOW_HDR" AS
SELECT h.* FROM "ORD_HDR" AS h, LATERAL (SELECT pg_sleep(1)) AS s"""
BARBARA = OrdersCustomerRef(BARBARA_REF)


@pytest.fixture(scope="module")
async def pg_settings(database_url: str) -> OrdersSettings:
    return await postgres_orders(database_url)


@pytest.fixture(scope="module")
def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> OrdersSettings:
    return sqlite_orders(tmp_path_factory.mktemp("orders") / "legacy.sqlite")


@pytest.fixture
async def pg(pg_settings: OrdersSettings) -> AsyncIterator[SqlOrdersAdapter]:
    async with open_orders_adapter(pg_settings, Connection()) as adapter:
        assert isinstance(adapter, SqlOrdersAdapter)
        yield adapter


async def test_ada_has_one_shipped_and_one_backordered_order_newest_first(
    pg: SqlOrdersAdapter,
) -> None:
    found = await pg.list_orders(ADA)

    assert [(o.number, o.status, o.source_status) for o in found.items] == [
        ("SO100102", OrderStatus.BACKORDERED, "BO"),
        ("SO100101", OrderStatus.SHIPPED, "SHP"),
    ]
    shipped = found.items[1]
    assert shipped.placed_at.isoformat() == "2024-05-02T00:00:00+00:00"
    assert shipped.total == Money(amount=Decimal("101.97"), currency="GBP")
    assert [(line.sku, line.quantity) for line in shipped.lines] == [
        ("SKU-1002", 1),
        ("SKU-1003", 2),
    ]
    assert shipped.shipment is not None
    assert shipped.shipment.tracking_number == "RM123456785GB"


async def test_barbara_has_a_cancelled_order_in_dollars(pg: SqlOrdersAdapter) -> None:
    found = await pg.list_orders(BARBARA)

    assert [(o.status, o.total) for o in found.items] == [
        (OrderStatus.CANCELLED, Money(amount=Decimal("74.97"), currency="USD"))
    ]


async def test_sqlite_with_another_naming_scheme_gives_the_same_orders(
    pg: SqlOrdersAdapter, sqlite_settings: OrdersSettings
) -> None:
    async with open_orders_adapter(sqlite_settings, Connection()) as adapter:
        assert isinstance(adapter, SqlOrdersAdapter)
        from_sqlite = await adapter.list_orders(ADA)

    from_postgres = await pg.list_orders(ADA)
    assert from_sqlite.items == from_postgres.items


async def test_references_are_read_as_phones_and_account_numbers(pg: SqlOrdersAdapter) -> None:
    customers = [each async for page in pg.iter_customers() for each in page]
    by_ref = {each.ref: each for each in customers}

    assert by_ref[ADA].phone == "+442079460018"
    assert by_ref[BARBARA].account == "cus_barbara"
    assert len(by_ref) == len(customers)
    assert await pg.search_customers(phone="+442079460018") == [by_ref[ADA]]
    assert await pg.get_customer(BARBARA) == by_ref[BARBARA]
    assert await pg.get_customer(OrdersCustomerRef("nobody")) is None


async def test_an_unmapped_status_code_is_unknown_and_reported(pg: SqlOrdersAdapter) -> None:
    orders = [order async for page in pg.iter_orders() for _, order in page]

    unknown = [order for order in orders if order.status is OrderStatus.UNKNOWN]
    assert unknown
    assert {order.source_status for order in unknown} == {"HLD"}
    assert pg.order_status.unmapped["HLD"] == len(unknown)


async def test_an_unreadable_row_costs_only_that_row_and_is_logged_without_values(
    pg: SqlOrdersAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.unreadable"):
        orders = [order async for page in pg.iter_orders() for _, order in page]

    # The sandbox writes "see invoice" as the total of an orphan, and of one order in a hundred.
    assert pg.unreadable.by_field["total"] >= 1
    assert orders
    messages = [(r.getMessage(), getattr(r, "field", None)) for r in caplog.records]
    assert ("a record could not be read and was left out", "total") in messages
    assert "see invoice" not in caplog.text


async def test_a_missing_table_is_refused_at_start_up_by_name(
    pg_settings: OrdersSettings,
) -> None:
    wrong = pg_settings.model_copy(update={"shipments_table": "V_SHIPMENTS"})

    with pytest.raises(MissingSchemaError, match=r"'V_SHIPMENTS' \(SCV_ORDERS__SHIPMENTS_TABLE\)"):
        async with open_orders_adapter(wrong, Connection()):
            pass


async def test_a_missing_column_is_refused_at_start_up_by_name(
    pg_settings: OrdersSettings,
) -> None:
    columns = pg_settings.order_columns.model_copy(update={"total": "TOTAL_AMOUNT"})
    wrong = pg_settings.model_copy(update={"order_columns": columns})

    with pytest.raises(
        MissingSchemaError,
        match=r"column 'TOTAL_AMOUNT' of 'V_ORD_HDR' \(SCV_ORDERS__ORDER_COLUMNS__TOTAL\)",
    ):
        async with open_orders_adapter(wrong, Connection()):
            pass


async def test_a_database_that_is_down_does_not_stop_start_up_and_fails_reads_typed(
    tmp_path: Path,
) -> None:
    # A socket directory with no server in it: nothing answers.
    down = OrdersSettings(
        url=SecretStr(f"postgresql+asyncpg://reader@/legacy?host={tmp_path}"),
        connect_timeout=0.5,
    )
    async with open_orders_adapter(down, Connection()) as adapter:
        assert isinstance(adapter, SqlOrdersAdapter)
        with pytest.raises(UpstreamUnavailable) as caught:
            await adapter.list_orders(ADA)

    assert caught.value.source.value == "ORDERS"
    assert str(tmp_path) not in str(caught.value)


async def test_no_database_configured_reads_nothing_and_fails_the_panel() -> None:
    async with open_orders_adapter(OrdersSettings(), Connection()) as adapter:
        assert isinstance(adapter, SqlOrdersAdapter)
        assert [page async for page in adapter.iter_customers()] == []
        assert await adapter.search_customers(phone="+442079460018") == []
        with pytest.raises(UpstreamUnavailable, match="no orders database is configured"):
            await adapter.list_orders(ADA)


async def test_a_schema_checked_late_refuses_reads_as_a_contract_error(
    sqlite_settings: OrdersSettings,
) -> None:
    wrong = sqlite_settings.model_copy(update={"lines_table": "items"})
    engine = create_async_engine(wrong.url.get_secret_value() if wrong.url else "")
    adapter = SqlOrdersAdapter(wrong, engine)
    try:
        with pytest.raises(UpstreamContractError, match="'items'"):
            await adapter.list_orders(ADA)
    finally:
        await engine.dispose()


async def test_the_reader_role_may_not_write(pg_settings: OrdersSettings) -> None:
    assert pg_settings.url is not None
    # A plain engine: not the adapter's, whose sessions are read-only on top of the role.
    engine = create_async_engine(pg_settings.url.get_secret_value())
    try:
        async with engine.begin() as conn:
            with pytest.raises(ProgrammingError, match="permission denied"):
                await conn.execute(
                    text('UPDATE "V_ORD_HDR" SET "STAT_CD" = :code'), {"code": "DLV"}
                )
        async with engine.connect() as conn:
            with pytest.raises(ProgrammingError, match="permission denied"):
                await conn.execute(text('SELECT count(*) FROM "ORD_HDR"'))
    finally:
        await engine.dispose()


async def test_a_slow_statement_is_stopped_by_the_statement_timeout(
    database_url: str, pg_settings: OrdersSettings
) -> None:
    # A view that takes a second per statement, made by the database's owner for this test.
    admin = create_async_engine(
        make_url(database_url).set(drivername="postgresql+asyncpg", database="legacy_orders")
    )
    try:
        async with admin.begin() as conn:
            await conn.execute(text(SLOW_VIEW))
            await conn.execute(text(f'GRANT SELECT ON "V_SLOW_HDR" TO "{READER}"'))
    finally:
        await admin.dispose()
    slow = pg_settings.model_copy(
        update={"orders_table": "V_SLOW_HDR", "statement_timeout_seconds": 0.2}
    )

    async with open_orders_adapter(slow, Connection()) as adapter:
        assert isinstance(adapter, SqlOrdersAdapter)
        with pytest.raises(UpstreamTimeout) as caught:
            await adapter.list_orders(ADA)

    assert caught.value.source.value == "ORDERS"
