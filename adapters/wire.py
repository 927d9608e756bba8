"""What the vendor-shaped models of every adapter share.

Each adapter declares the vendor's shape privately (``extra="ignore"``: vendors add fields
all the time, and we read only the ones we name) and converts it to the canonical models
with the small helpers here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from kernel.models import Address


class WireModel(BaseModel):
    """Base of the vendor-shaped models: immutable, and tolerant of fields we do not read."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def text(value: str | None) -> str | None:
    """``value``, or None when it is missing or blank: vendors send ``""`` for "not set"."""
    if value is None or not value.strip():
        return None
    return value


def address_or_none(
    *,
    line1: str | None = None,
    line2: str | None = None,
    city: str | None = None,
    region: str | None = None,
    postal_code: str | None = None,
    country: str | None = None,
) -> Address | None:
    """An ``Address`` of the non-blank parts, or None when every part is blank."""
    address = Address(
        line1=text(line1),
        line2=text(line2),
        city=text(city),
        region=text(region),
        postal_code=text(postal_code),
        country=text(country),
    )
    return address if address != Address() else None
