"""The two legacy schemas, as SQLAlchemy tables: the PostgreSQL one and the SQLite one.

PostgreSQL: tables ``ORD_HDR``, ``ORD_LN``, ``SHIP`` with upper-case abbreviated column names,
everything as text the way the legacy system wrote it, and the views ``V_ORD_HDR``, ``V_ORD_LN``,
``V_SHIP`` the gateway's role may read. SQLite: ``orders``, ``order_items``, ``deliveries`` in
snake case, dates as ISO text, amounts in minor units with a currency column.
"""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, Table, Text

postgres = MetaData()
ORD_HDR = Table(
    "ORD_HDR", postgres,
    Column("ORD_NO", Text, primary_key=True),
    Column("CUST_REF", Text, index=True),
    Column("ORD_DT", Text),
    Column("STAT_CD", Text),
    Column("TOT_AMT", Text),
)  # fmt: skip
ORD_LN = Table(
    "ORD_LN", postgres,
    Column("ORD_NO", Text, primary_key=True),
    Column("LN_NO", Integer, primary_key=True),
    Column("SKU_CD", Text),
    Column("ITEM_DESC", Text),
    Column("QTY", Integer),
)  # fmt: skip
SHIP = Table(
    "SHIP", postgres,
    Column("ORD_NO", Text, primary_key=True),
    Column("CARRIER", Text),
    Column("TRK_NO", Text),
    Column("SHIP_STAT", Text),
)  # fmt: skip
#: The views the gateway's role reads (``postgres.py`` creates each over its table).
VIEWS = ("V_ORD_HDR", "V_ORD_LN", "V_SHIP")

sqlite = MetaData()
ORDERS = Table(
    "orders", sqlite,
    Column("order_ref", Text, primary_key=True),
    Column("customer", Text, index=True),
    Column("ordered_on", Text),
    Column("state", Text),
    Column("amount_minor", Integer),
    Column("currency", Text),
)  # fmt: skip
ORDER_ITEMS = Table(
    "order_items", sqlite,
    Column("order_ref", Text, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("item_code", Text),
    Column("item_name", Text),
    Column("units", Integer),
)  # fmt: skip
DELIVERIES = Table(
    "deliveries", sqlite,
    Column("order_ref", Text, primary_key=True),
    Column("courier", Text),
    Column("tracking", Text),
    Column("delivery_state", Text),
)  # fmt: skip
