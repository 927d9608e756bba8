"""The legacy schema as SQLAlchemy ``Table`` objects built from the section's names.

Statements are built from these (``select``, ``where`` with bound parameters): names come
from settings and are quoted by the dialect, values are always parameters, and no SQL is
ever formatted from strings.
"""

from __future__ import annotations

from sqlalchemy import Column, MetaData, Table

from adapters.orders.settings import OrdersSettings
from adapters.sql.schema import ExpectedTable


class OrdersTables:
    """The three tables (or views) the settings name, with the columns the gateway reads."""

    def __init__(self, settings: OrdersSettings) -> None:
        metadata = MetaData(schema=settings.db_schema)
        self.expected = (
            ExpectedTable(
                "SCV_ORDERS__ORDERS_TABLE",
                settings.orders_table,
                _named("ORDER_COLUMNS", settings.order_columns.model_dump()),
            ),
            ExpectedTable(
                "SCV_ORDERS__LINES_TABLE",
                settings.lines_table,
                _named("LINE_COLUMNS", settings.line_columns.model_dump()),
            ),
            ExpectedTable(
                "SCV_ORDERS__SHIPMENTS_TABLE",
                settings.shipments_table,
                _named("SHIPMENT_COLUMNS", settings.shipment_columns.model_dump()),
            ),
        )
        orders, lines, shipments = (
            Table(table.name, metadata, *(Column(name) for name in set(table.columns.values())))
            for table in self.expected
        )
        self.orders = orders
        self.lines = lines
        self.shipments = shipments


def _named(section: str, columns: dict[str, str | None]) -> dict[str, str]:
    """Setting name -> column name, the unset optional columns left out."""
    return {
        f"SCV_ORDERS__{section}__{field.upper()}": column
        for field, column in columns.items()
        if column is not None
    }
