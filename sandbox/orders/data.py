"""The legacy orders, drawn from a dataset's people: one row set for both databases.

The rows are neutral (Python values); each database writes them in its own habits. The
named customers' orders are the same whatever the seed (``sandbox/README.md``): Ada has one
shipped and one back-ordered order, Barbara a cancelled one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sandbox.records import REFERENCE_TIME, Dataset

#: The legacy system's status codes, and how often a generated order has each.
STATUS_CODES = ("PLC", "BO", "SHP", "DLV", "CXL", "RTN")
_STATUS_WEIGHTS = (2, 1, 3, 10, 2, 1)
#: A code the default settings do not map: an unmapped word is reported, never dropped.
UNMAPPED_CODE = "HLD"
CARRIERS = ("Royal Mail", "DPD", "Parcelforce", "Evri")
ITEMS = (
    ("SKU-1001", "USB-C charging cable 2m", 899),
    ("SKU-1002", "Wireless router AX3000", 8999),
    ("SKU-1003", "Ethernet cable 5m", 599),
    ("SKU-1004", "Mesh Wi-Fi extender", 5999),
    ("SKU-1005", "Smart plug (2 pack)", 2499),
    ("SKU-1006", "Replacement remote control", 1499),
)


@dataclass(slots=True)
class LegacyLine:
    number: int
    sku: str
    description: str
    quantity: int
    #: Unit price in minor units.
    unit_minor: int


@dataclass(slots=True)
class LegacyOrder:
    number: str
    #: As the legacy system wrote it: a local-format phone, or an old account number.
    customer_ref: str
    placed: date
    status: str
    currency: str
    lines: list[LegacyLine]
    carrier: str | None = None
    tracking: str | None = None
    shipment_status: str | None = None
    #: A total the legacy system failed to write as a number (a bad row, left out).
    garbled_total: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def total_minor(self) -> int:
        return sum(line.quantity * line.unit_minor for line in self.lines)


def local_uk_phone(phone: str | None) -> str | None:
    """A UK number as a legacy system writes it (``020 7946 0018``); None if not UK."""
    digits = re.sub(r"\D", "", phone or "")
    if not digits.startswith("44") or len(digits) != 12:
        return None
    national = "0" + digits[2:]
    if national.startswith("07"):
        return f"{national[:5]} {national[5:]}"
    return f"{national[:3]} {national[3:7]} {national[7:]}"


def legacy_orders(dataset: Dataset) -> list[LegacyOrder]:
    """Every order: the named customers', some of the generated people's, and orphans."""
    orders = _named_orders()
    rng = random.Random(dataset.seed * 7919 + 17)
    serial = 500_000
    for contact in dataset.crm.contacts:
        if contact.id.startswith("100"):
            continue  # the named customers', above
        ref = local_uk_phone(contact.properties.get("phone"))
        if ref is None or rng.random() >= 0.3:
            continue
        for _ in range(rng.randint(1, 3)):
            serial += 1
            orders.append(_generated(rng, f"SO{serial}", ref))
    # Orphans: references that match no customer of any other system.
    for n in range(12):
        serial += 1
        ref = f"01632 96{n:04d}" if n % 2 == 0 else f"ACC-{770_000 + n}"
        orphan = _generated(rng, f"SO{serial}", ref)
        # One total the legacy system garbled in every dataset, whatever its size.
        orphan.garbled_total = orphan.garbled_total or n == 3
        orders.append(orphan)
    return orders


def _named_orders() -> list[LegacyOrder]:
    ada = "020 7946 0018"
    return [
        LegacyOrder(
            "SO100101", ada, date(2024, 5, 2), "SHP", "GBP",
            [LegacyLine(1, "SKU-1002", "Wireless router AX3000", 1, 8999),
             LegacyLine(2, "SKU-1003", "Ethernet cable 5m", 2, 599)],
            carrier="Royal Mail", tracking="RM123456785GB", shipment_status="In transit",
        ),
        LegacyOrder(
            "SO100102", ada, date(2024, 5, 20), "BO", "GBP",
            [LegacyLine(1, "SKU-1004", "Mesh Wi-Fi extender", 1, 5999)],
        ),
        # Barbara's old account number: billing kept it as her customer id.
        LegacyOrder(
            "SO100701", "cus_barbara", date(2024, 3, 11), "CXL", "USD",
            [LegacyLine(1, "SKU-1005", "Smart plug (2 pack)", 3, 2499)],
        ),
    ]  # fmt: skip


def _generated(rng: random.Random, number: str, ref: str) -> LegacyOrder:
    placed = datetime.fromtimestamp(REFERENCE_TIME, UTC).date() - timedelta(
        days=rng.randrange(3, 700)
    )
    status = rng.choices(STATUS_CODES, _STATUS_WEIGHTS)[0]
    if rng.random() < 0.02:
        status = UNMAPPED_CODE
    lines = [
        LegacyLine(n, sku, description, rng.randint(1, 3), price)
        for n, (sku, description, price) in enumerate(rng.sample(ITEMS, rng.randint(1, 3)), 1)
    ]
    order = LegacyOrder(number, ref, placed, status, "GBP", lines)
    if status in ("SHP", "DLV", "RTN"):
        order.carrier = rng.choice(CARRIERS)
        order.tracking = f"TRK{rng.randrange(10**9):09d}"
        order.shipment_status = {"SHP": "In transit", "DLV": "Delivered", "RTN": "Returned"}[status]
    order.garbled_total = rng.random() < 0.01
    return order


def text_amount(order: LegacyOrder) -> str:
    """The total as the legacy system writes it: a symbol, thousands separators (or the
    code after the amount), and now and then something that is no amount at all."""
    if order.garbled_total:
        return "see invoice"
    major = f"{order.total_minor / 100:,.2f}"
    symbol = {"GBP": "£", "USD": "$"}.get(order.currency)
    return f"{symbol}{major}" if symbol else f"{major} {order.currency}"
