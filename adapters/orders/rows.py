"""Legacy values into canonical ones: dates, amounts and customer references.

Each parser raises ``UnreadableValue`` naming the field (never the value: a legacy column
can hold anything, a customer's details included), so that the adapter can leave the one
row out, count it and log which field failed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from adapters.orders.port import OrdersCustomer, OrdersCustomerRef
from adapters.orders.settings import OrdersSettings
from kernel.models import Money
from kernel.normalize import normalize_email, normalize_phone

#: Currency symbols legacy systems write before amounts.
CURRENCY_SYMBOLS = {"£": "GBP", "$": "USD", "€": "EUR", "¥": "JPY"}
_CODE = re.compile(r"\b([A-Za-z]{3})\b")


class UnreadableValue(ValueError):
    """A value of ``field`` in no format the settings describe."""

    def __init__(self, field: str) -> None:
        super().__init__(f"unreadable {field}")
        self.field = field


def parse_date(value: object, date_format: str, field: str = "placed_at") -> datetime:
    """An aware datetime (UTC) from a date or timestamp column, or text in ``date_format``."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str) or not value.strip():
        raise UnreadableValue(field)
    text = value.strip()
    try:
        parsed = (
            datetime.fromisoformat(text)
            if date_format == "iso"
            else datetime.strptime(text, date_format)
        )
    except ValueError:
        raise UnreadableValue(field) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_amount(
    value: object, settings: OrdersSettings, currency: object = None, field: str = "total"
) -> Money | None:
    """Money from minor units (an integer) or text with a symbol or an ISO code; None for
    an empty value (an order without a total)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    code = currency.strip().upper() if isinstance(currency, str) and currency.strip() else None
    if settings.amount_format == "minor_units":
        minor = _integer(value, field)
        return Money(amount=Decimal(minor) / 100, currency=code or settings.currency)
    if isinstance(value, int | float | Decimal):
        return Money(amount=Decimal(str(value)), currency=code or settings.currency)
    if not isinstance(value, str):
        raise UnreadableValue(field)
    text = value.strip()
    for symbol, symbol_code in CURRENCY_SYMBOLS.items():
        if symbol in text:
            code = code or symbol_code
            text = text.replace(symbol, "")
    found = _CODE.search(text)
    if found:
        code = code or found.group(1).upper()
        text = _CODE.sub("", text)
    text = text.replace(",", "").replace(" ", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise UnreadableValue(field) from None
    if not amount.is_finite():
        raise UnreadableValue(field)
    return Money(amount=amount, currency=code or settings.currency)


def to_customer(raw: str, settings: OrdersSettings) -> OrdersCustomer:
    """A customer reference as linking reads it, by the section's kind of reference."""
    ref = OrdersCustomerRef(raw)
    prefix = settings.account_prefix
    if settings.customer_reference == "account" or (prefix and raw.startswith(prefix)):
        return OrdersCustomer(ref=ref, account=raw.strip() or None)
    if settings.customer_reference == "email":
        return OrdersCustomer(ref=ref, email=normalize_email(raw))
    return OrdersCustomer(ref=ref, phone=normalize_phone(raw, settings.phone_region))


def quantity_of(value: object) -> int:
    """A line's quantity (an integer column, or digits as text)."""
    return _integer(value, "quantity")


def _integer(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise UnreadableValue(field)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise UnreadableValue(field)
