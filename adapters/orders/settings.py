"""The orders database's settings section (``SCV_ORDERS__...``): where it is, and its schema.

Every name of the legacy schema is configuration: the three tables (or views), the column
that holds each canonical field, the status codes' canonical words (a taxonomy: an unmapped
code is reported, never dropped), the date and amount formats and how a row refers to its
customer. Pointing the gateway at another legacy database is a settings change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from sqlalchemy.engine import make_url

from adapters.settings import SandboxPlace
from adapters.sql.settings import DatabaseSourceSettings

#: The sandbox's legacy database (``sandbox/orders``): its name and its read-only role.
SANDBOX_DATABASE = "legacy_orders"
SANDBOX_READER = "scv_orders_reader"
SANDBOX_READER_PASSWORD = "orders-sandbox-reader"  # the sandbox's, public (like its API keys)


class _Columns(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderColumns(_Columns):
    """The orders table's columns, by canonical field."""

    number: str = Field(default="ORD_NO", description="the order's number (unique)")
    customer_ref: str = Field(default="CUST_REF", description="how the row names its customer")
    placed_at: str = Field(default="ORD_DT", description="when it was placed (date_format)")
    status: str = Field(default="STAT_CD", description="the legacy status code")
    total: str = Field(default="TOT_AMT", description="the order's total (amount_format)")
    currency: str | None = Field(
        default=None, description="a column with the ISO currency code; unset: from the amount"
    )


class LineColumns(_Columns):
    """The order lines table's columns."""

    order_number: str = Field(default="ORD_NO", description="the order the line belongs to")
    line_number: str = Field(default="LN_NO", description="the line's position in its order")
    sku: str = Field(default="SKU_CD", description="the item's SKU")
    description: str = Field(default="ITEM_DESC", description="the item's description")
    quantity: str = Field(default="QTY", description="how many")


class ShipmentColumns(_Columns):
    """The shipments table's columns (one shipment per order at most)."""

    order_number: str = Field(default="ORD_NO", description="the order shipped")
    carrier: str = Field(default="CARRIER", description="the carrier's name")
    tracking_number: str = Field(default="TRK_NO", description="the carrier's tracking number")
    status: str = Field(default="SHIP_STAT", description="the carrier's status word, as is")


#: The legacy codes of the sandbox's database, and the usual words of order systems.
DEFAULT_ORDER_STATUS = {
    "PLC": "PLACED",
    "NEW": "PLACED",
    "BO": "BACKORDERED",
    "SHP": "SHIPPED",
    "DLV": "DELIVERED",
    "CXL": "CANCELLED",
    "RTN": "RETURNED",
}


class OrdersSettings(DatabaseSourceSettings):
    """Legacy order-management database: orders and shipments."""

    orders_table: str = Field(default="V_ORD_HDR", description="table or view of the orders")
    lines_table: str = Field(default="V_ORD_LN", description="table or view of order lines")
    shipments_table: str = Field(default="V_SHIP", description="table or view of shipments")
    order_columns: OrderColumns = Field(default_factory=OrderColumns)
    line_columns: LineColumns = Field(default_factory=LineColumns)
    shipment_columns: ShipmentColumns = Field(default_factory=ShipmentColumns)
    order_status: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ORDER_STATUS),
        description="taxonomy map: legacy status code -> canonical OrderStatus",
    )
    date_format: str = Field(
        default="%d/%m/%Y",
        description="strptime format of dates held as text; 'iso' for ISO 8601 text (date "
        "and timestamp columns are read as they are)",
    )
    amount_format: Literal["text", "minor_units"] = Field(
        default="text",
        description="text: '£1,234.50', '12.00 EUR', '$9.99'; minor_units: an integer of pence",
    )
    currency: str = Field(
        default="GBP", description="ISO currency of amounts that name none (minor units)"
    )
    customer_reference: Literal["phone", "email", "account"] = Field(
        default="phone",
        description="what customer_ref holds: a phone in any format (linked by phone), an "
        "email, or a legacy account number (the billing system's customer id)",
    )
    account_prefix: str | None = Field(
        default="cus_",
        description="references that begin with this are legacy account numbers whatever "
        "customer_reference says (a column that holds phones and account numbers both); unset: "
        "none are",
    )
    phone_region: str = Field(
        default="GB", description="ISO region of phone numbers written without a country code"
    )


def orders_in_sandbox(settings: OrdersSettings, place: SandboxPlace) -> OrdersSettings:
    """``settings`` reading the sandbox's legacy database through its read-only role (left
    as they are when the sandbox has no database server)."""
    if place.database_url is None:
        return settings
    return settings.model_copy(update={"url": SecretStr(sandbox_reader_url(place.database_url))})


def sandbox_reader_url(server_url: str) -> str:
    """The read-only role's URL to the sandbox's legacy database on the server of
    ``server_url`` (a ``postgresql://`` URL such as the embedded server's)."""
    url = make_url(server_url)
    return url.set(
        drivername="postgresql+asyncpg",
        username=SANDBOX_READER,
        password=SANDBOX_READER_PASSWORD,
        database=SANDBOX_DATABASE,
    ).render_as_string(hide_password=False)
