"""The legacy orders as a database of its own on a PostgreSQL server, read through a role
that may only SELECT its views.

``create_legacy_database`` (re)creates the database ``legacy_orders`` from scratch, so that a
new seed or size gives its own orders. The reader role (``scv_orders_reader``) may connect,
and SELECT the three ``V_*`` views; it has no privilege on the tables behind them, and no
write privilege at all (least privilege: the gateway only reads). Every statement here is a
constant or built from SQLAlchemy's tables; the only values are the rows, as parameters.
"""

from __future__ import annotations

from sqlalchemy import insert, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from sandbox.orders.data import LegacyOrder, legacy_orders, text_amount
from sandbox.orders.schema import ORD_HDR, ORD_LN, SHIP, VIEWS, postgres
from sandbox.records import Dataset

DATABASE = "legacy_orders"
READER = "scv_orders_reader"
READER_PASSWORD = "orders-sandbox-reader"  # the sandbox's, public (like its API keys)

_RECREATE = (
    f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)',
    f'CREATE DATABASE "{DATABASE}"',
)
# Roles belong to the whole server: made once, its password reset each time.
_ROLE = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{READER}') THEN
    CREATE ROLE "{READER}" LOGIN;
  END IF;
END $$"""
_PASSWORD = f"ALTER ROLE \"{READER}\" LOGIN PASSWORD '{READER_PASSWORD}'"
_GRANTS = (
    f'REVOKE ALL ON DATABASE "{DATABASE}" FROM PUBLIC',
    f'GRANT CONNECT ON DATABASE "{DATABASE}" TO "{READER}"',
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    f'GRANT USAGE ON SCHEMA public TO "{READER}"',
    *(f'GRANT SELECT ON "{view}" TO "{READER}"' for view in VIEWS),
)


_CREATE_VIEWS = (
    'CREATE VIEW "V_ORD_HDR" AS SELECT * FROM "ORD_HDR"',
    'CREATE VIEW "V_ORD_LN" AS SELECT * FROM "ORD_LN"',
    'CREATE VIEW "V_SHIP" AS SELECT * FROM "SHIP"',
)


def _async_url(server_url: str, database: str | None = None) -> URL:
    url = make_url(server_url).set(drivername="postgresql+asyncpg")
    return url.set(database=database) if database is not None else url


def reader_url(server_url: str) -> str:
    """The reader role's URL of the legacy database on ``server_url``'s server."""
    return (
        _async_url(server_url, DATABASE)
        .set(username=READER, password=READER_PASSWORD)
        .render_as_string(hide_password=False)
    )


async def create_legacy_database(server_url: str, dataset: Dataset) -> int:
    """(Re)create the legacy database on ``server_url``'s server (an admin's URL) from
    ``dataset``'s people; the number of orders written."""
    admin = create_async_engine(_async_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for statement in (*_RECREATE, _ROLE, _PASSWORD):
                await conn.execute(text(statement))
    finally:
        await admin.dispose()
    orders = legacy_orders(dataset)
    engine = create_async_engine(_async_url(server_url, DATABASE))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(postgres.create_all)
            for statement in _CREATE_VIEWS:
                await conn.execute(text(statement))
            for statement in _GRANTS:
                await conn.execute(text(statement))
            await _write(conn, orders)
    finally:
        await engine.dispose()
    return len(orders)


async def _write(conn: AsyncConnection, orders: list[LegacyOrder]) -> None:
    await conn.execute(
        insert(ORD_HDR),
        [
            {
                "ORD_NO": order.number,
                "CUST_REF": order.customer_ref,
                "ORD_DT": order.placed.strftime("%d/%m/%Y"),
                "STAT_CD": order.status,
                "TOT_AMT": text_amount(order),
            }
            for order in orders
        ],
    )
    await conn.execute(
        insert(ORD_LN),
        [
            {
                "ORD_NO": order.number,
                "LN_NO": line.number,
                "SKU_CD": line.sku,
                "ITEM_DESC": line.description,
                "QTY": line.quantity,
            }
            for order in orders
            for line in order.lines
        ],
    )
    shipped = [order for order in orders if order.carrier is not None]
    if shipped:
        await conn.execute(
            insert(SHIP),
            [
                {
                    "ORD_NO": order.number,
                    "CARRIER": order.carrier,
                    "TRK_NO": order.tracking,
                    "SHIP_STAT": order.shipment_status,
                }
                for order in shipped
            ],
        )
