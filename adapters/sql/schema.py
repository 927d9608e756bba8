"""The tables (or views) and columns a section names, checked against the database once.

A section that names a table or a column the database does not have is a configuration
mistake: it is refused at start-up with a message naming what is missing, rather than
failing every read later. The check reads the catalogue through SQLAlchemy's inspector,
which every dialect implements (views included).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError


class MissingSchemaError(ValueError):
    """The database lacks a table or column the settings name (refused at start-up)."""


@dataclass(frozen=True, slots=True)
class ExpectedTable:
    """One table or view and the columns of it the settings name."""

    #: Which setting names it (``SCV_ORDERS__ORDERS_TABLE``), for the message.
    setting: str
    name: str
    #: Setting name -> column name.
    columns: Mapping[str, str]


def check_schema(conn: Connection, schema: str | None, expected: Sequence[ExpectedTable]) -> None:
    """Raise ``MissingSchemaError`` naming every missing table and column (sync: run it
    through ``AsyncConnection.run_sync``)."""
    inspector = inspect(conn)
    missing: list[str] = []
    for table in expected:
        try:
            found = {column["name"] for column in inspector.get_columns(table.name, schema)}
        except NoSuchTableError:
            found = set()
        if not found:
            missing.append(f"table or view {table.name!r} ({table.setting})")
            continue
        missing.extend(
            f"column {column!r} of {table.name!r} ({setting})"
            for setting, column in table.columns.items()
            if column not in found
        )
    if missing:
        raise MissingSchemaError("the database has no " + "; no ".join(missing))
