"""``OrdersAdapter`` over the legacy database, through SQLAlchemy's async Core.

One customer's orders are one statement (orders, their shipment and their lines joined), so
the panel costs the database one round trip. Legacy values go through ``rows.py``: a row that
cannot be read costs only that row (``adapters.unreadable``: counted by field, logged without
its values); a status code with no mapping is UNKNOWN and reported by the taxonomy.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import phonenumbers
from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.connection import Connection
from adapters.http.client import CallPolicy, Clock, utc_now
from adapters.orders.port import (
    Order,
    OrderLine,
    OrderList,
    OrdersAdapter,
    OrdersCustomer,
    OrdersCustomerRef,
    OrderStatus,
    Shipment,
)
from adapters.orders.rows import (
    UnreadableValue,
    parse_amount,
    parse_date,
    quantity_of,
    to_customer,
)
from adapters.orders.settings import OrdersSettings
from adapters.orders.tables import OrdersTables
from adapters.sql.calls import Read, UpstreamDatabase
from adapters.sql.engine import build_engine
from adapters.sql.schema import MissingSchemaError, check_schema
from adapters.taxonomy import Taxonomy
from adapters.unreadable import UnreadableRecords
from kernel.errors import UpstreamContractError, UpstreamUnavailable
from kernel.models import Source

logger = logging.getLogger(__name__)

T = TypeVar("T")


@asynccontextmanager
async def open_orders_adapter(
    settings: OrdersSettings, connection: Connection
) -> AsyncIterator[object]:
    """The adapter over its own engine, the configured schema checked; the engine's pool
    is closed on exit.

    A schema that lacks a configured table or column refuses start-up
    (``MissingSchemaError`` names it). A database that cannot be reached does not: it costs
    the orders panel only, and the check is made again before the first read that reaches it.
    """
    if settings.url is None:
        logger.warning("no orders database is configured (SCV_ORDERS__URL): nothing is read")
        yield SqlOrdersAdapter(settings, None, policy=connection.policy)
        return
    engine = build_engine(settings)
    try:
        adapter = SqlOrdersAdapter(settings, engine, policy=connection.policy)
        await adapter.check_schema_at_start()
        yield adapter
    finally:
        await engine.dispose()


class SqlOrdersAdapter:
    """``OrdersAdapter`` over an ``AsyncEngine`` (None: no database configured)."""

    def __init__(
        self,
        settings: OrdersSettings,
        engine: AsyncEngine | None,
        *,
        policy: CallPolicy | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._tables = OrdersTables(settings)
        self._db = (
            UpstreamDatabase(
                engine,
                Source.ORDERS,
                statement_timeout=settings.statement_timeout_seconds,
                policy=policy,
            )
            if engine is not None
            else None
        )
        self._schema_checked = False
        # Built once: the panel's statement differs only by its parameter, and building it
        # per call cost more CPU than the database's answer.
        self._history = _history_statement(self._tables, settings)
        self.order_status = Taxonomy(
            Source.ORDERS, "order_status", settings.order_status, OrderStatus
        )
        #: Orders left out because a value could not be read, by field.
        self.unreadable = UnreadableRecords(Source.ORDERS, "order")

    # --- start-up ---------------------------------------------------------------------------

    async def check_schema_at_start(self) -> None:
        """Check the configured schema now; ``MissingSchemaError`` if it is wrong, a warning
        (and a check before the first read) if the database cannot be reached."""
        try:
            async with asyncio.timeout(
                self._settings.connect_timeout + self._settings.statement_timeout_seconds
            ):
                await self._check_schema()
        except MissingSchemaError:
            raise
        except Exception as exc:
            logger.warning(
                "could not check the orders database's schema at start-up (%s): the orders "
                "panel fails until it answers",
                type(exc).__name__,
            )

    async def _check_schema(self) -> None:
        db = self._database()
        async with db.engine.connect() as conn:
            await conn.run_sync(check_schema, self._settings.db_schema, self._tables.expected)
        self._schema_checked = True

    def _database(self) -> UpstreamDatabase:
        if self._db is None:
            raise UpstreamUnavailable(Source.ORDERS, "no orders database is configured")
        return self._db

    async def _read(self, read: Read[T]) -> T:
        """``read`` through the source's database calls, the schema checked first."""
        db = self._database()
        if not self._schema_checked:

            async def checked(conn: AsyncConnection) -> T:
                try:
                    await conn.run_sync(
                        check_schema, self._settings.db_schema, self._tables.expected
                    )
                except MissingSchemaError as exc:
                    raise UpstreamContractError(Source.ORDERS, str(exc)) from exc
                self._schema_checked = True
                return await read(conn)

            return await db.read(checked)
        return await db.read(read)

    # --- the panel ----------------------------------------------------------------------

    async def list_orders(self, customer_ref: OrdersCustomerRef) -> OrderList:
        """Every order of the reference, newest first (see the port)."""
        statement = self._history
        parameters = {"customer_ref": customer_ref}

        async def read(conn: AsyncConnection) -> Sequence[Row[Any]]:
            found: Sequence[Row[Any]] = (await conn.execute(statement, parameters)).all()
            return found

        rows = await self._read(read)
        items = self._orders_of(rows)
        items.sort(key=lambda order: (order.placed_at, order.number), reverse=True)
        return OrderList(customer_ref=customer_ref, items=tuple(items), fetched_at=self._clock())

    def _orders_of(self, rows: Sequence[Row[Any]]) -> list[Order]:
        """The joined rows (one per line) as orders; an unreadable order is left out."""
        by_number: dict[str, list[Row[Any]]] = {}
        for row in rows:
            by_number.setdefault(str(row.number), []).append(row)
        found: list[Order] = []
        for number, group in by_number.items():
            order = self._order_of(number, group)
            if order is not None:
                found.append(order)
        return found

    def _order_of(self, number: str, group: list[Row[Any]]) -> Order | None:
        head = group[0]._mapping
        try:
            placed_at = parse_date(head["placed_at"], self._settings.date_format)
            total = parse_amount(head["total"], self._settings, head.get("currency"))
            lines = tuple(
                OrderLine(
                    sku=_text(row._mapping["sku"]),
                    description=_text(row._mapping["description"]),
                    quantity=quantity_of(row._mapping["quantity"]),
                )
                for row in group
                if row._mapping.get("line_number") is not None
            )
        except UnreadableValue as exc:
            self.unreadable.count(exc.field)
            return None
        word = _text(head["status"]) or ""
        shipment = None
        if any(
            head.get(key) is not None for key in ("carrier", "tracking_number", "shipment_status")
        ):
            shipment = Shipment(
                carrier=_text(head.get("carrier")),
                tracking_number=_text(head.get("tracking_number")),
                status=_text(head.get("shipment_status")),
            )
        return Order(
            number=number,
            status=self.order_status.map(word),
            source_status=word,
            placed_at=placed_at,
            total=total,
            lines=lines,
            shipment=shipment,
        )

    # --- linking and the read model -----------------------------------------------------------

    async def iter_customers(self) -> AsyncIterator[list[OrdersCustomer]]:
        """Every distinct reference, in pages of ``page_size`` (keyset: no offset scans)."""
        if self._db is None:
            return
        column = self._tables.orders.c[self._settings.order_columns.customer_ref]
        last: str | None = None
        while True:
            statement = select(column).distinct().where(column.is_not(None))
            if last is not None:
                statement = statement.where(column > last)
            statement = statement.order_by(column).limit(self._settings.page_size)

            async def read(conn: AsyncConnection, query: Any = statement) -> list[str]:
                return [str(value) for value in (await conn.execute(query)).scalars()]

            refs: list[str] = await self._read(read)
            if not refs:
                return
            yield [to_customer(ref, self._settings) for ref in refs]
            last = refs[-1]

    async def search_customers(
        self, *, email: str | None = None, phone: str | None = None
    ) -> list[OrdersCustomer]:
        """The references that are this email, or this phone as the legacy system may have
        written it (its usual spellings); nothing when no database is configured."""
        kind = self._settings.customer_reference
        wanted: list[str] = []
        if kind == "email" and email:
            wanted = [email.lower()]
        elif kind == "phone" and phone:
            wanted = _spellings(phone)
        if not wanted or self._db is None:
            return []
        column = self._tables.orders.c[self._settings.order_columns.customer_ref]
        compared = func.lower(column) if kind == "email" else column
        statement = select(column).distinct().where(compared.in_(wanted))

        async def read(conn: AsyncConnection) -> list[str]:
            return [str(value) for value in (await conn.execute(statement)).scalars()]

        return [to_customer(ref, self._settings) for ref in await self._read(read)]

    async def get_customer(self, customer_ref: OrdersCustomerRef) -> OrdersCustomer | None:
        """The reference, if any order carries it."""
        if self._db is None:
            return None
        column = self._tables.orders.c[self._settings.order_columns.customer_ref]
        statement = select(column).where(column == customer_ref).limit(1)

        async def read(conn: AsyncConnection) -> str | None:
            value = (await conn.execute(statement)).scalar()
            return None if value is None else str(value)

        found = await self._read(read)
        return None if found is None else to_customer(found, self._settings)

    async def iter_orders(self) -> AsyncIterator[list[tuple[OrdersCustomerRef, Order]]]:
        """Every order with its reference (no lines or shipments), in pages."""
        if self._db is None:
            return
        orders = self._tables.orders
        oc = self._settings.order_columns
        number = orders.c[oc.number]
        columns = [
            number.label("number"),
            orders.c[oc.customer_ref].label("customer_ref"),
            orders.c[oc.placed_at].label("placed_at"),
            orders.c[oc.status].label("status"),
            orders.c[oc.total].label("total"),
        ]
        if oc.currency is not None:
            columns.append(orders.c[oc.currency].label("currency"))
        last: Any = None
        while True:
            statement = select(*columns)
            if last is not None:
                statement = statement.where(number > last)
            statement = statement.order_by(number).limit(self._settings.page_size)

            async def read(conn: AsyncConnection, query: Any = statement) -> list[Row[Any]]:
                return list((await conn.execute(query)).all())

            rows: list[Row[Any]] = await self._read(read)
            if not rows:
                return
            page: list[tuple[OrdersCustomerRef, Order]] = []
            for row in rows:
                order = self._order_of(str(row.number), [row])
                if order is not None and row.customer_ref is not None:
                    page.append((OrdersCustomerRef(str(row.customer_ref)), order))
            yield page
            last = rows[-1].number


def _history_statement(tables: OrdersTables, settings: OrdersSettings) -> Select[Any]:
    """One customer reference's orders joined to their shipment and lines, one row per line
    (``customer_ref`` is its parameter)."""
    orders, lines, shipments = tables.orders, tables.lines, tables.shipments
    oc, lc, sc = settings.order_columns, settings.line_columns, settings.shipment_columns
    columns = [
        orders.c[oc.number].label("number"),
        orders.c[oc.placed_at].label("placed_at"),
        orders.c[oc.status].label("status"),
        orders.c[oc.total].label("total"),
        shipments.c[sc.carrier].label("carrier"),
        shipments.c[sc.tracking_number].label("tracking_number"),
        shipments.c[sc.status].label("shipment_status"),
        lines.c[lc.line_number].label("line_number"),
        lines.c[lc.sku].label("sku"),
        lines.c[lc.description].label("description"),
        lines.c[lc.quantity].label("quantity"),
    ]
    if oc.currency is not None:
        columns.append(orders.c[oc.currency].label("currency"))
    joined = orders.outerjoin(
        shipments, shipments.c[sc.order_number] == orders.c[oc.number]
    ).outerjoin(lines, lines.c[lc.order_number] == orders.c[oc.number])
    return (
        select(*columns)
        .select_from(joined)
        .where(orders.c[oc.customer_ref] == bindparam("customer_ref"))
        .order_by(orders.c[oc.number], lines.c[lc.line_number])
    )


def _text(value: object) -> str | None:
    """A legacy text value trimmed (fixed-width columns pad), None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _spellings(e164: str) -> list[str]:
    """How a legacy system may have written ``e164``: as is, internationally, nationally
    (with and without spaces)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return [e164]
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return list(
        dict.fromkeys(
            [
                e164,
                international,
                national,
                national.replace(" ", ""),
                international.replace(" ", ""),
            ]
        )
    )


if TYPE_CHECKING:
    # mypy proves here that the adapter implements its port in full.
    def _conforms(settings: OrdersSettings) -> OrdersAdapter:
        return SqlOrdersAdapter(settings, None)
