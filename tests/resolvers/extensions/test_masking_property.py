"""A property: no unmasked email, phone or card number reaches those who may not see it.

Generated customers (any email, phones of several countries, Luhn-valid card numbers typed
into their address and their tickets) are served through the schema to an agent without an
interaction, an analyst, an agent verified for another customer and a supervisor without a
purpose, with the audit sometimes failing; every string in the response and every log
record written meanwhile is scanned.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import strawberry
from hypothesis import given, settings
from hypothesis import strategies as st

from app.http.errors import PresentErrors
from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.identity import CustomerId
from kernel.models import Address, Source
from resolvers.context import Sources, new_context
from resolvers.schema import build_schema
from tests.builders import billing_customer, crm_contact, payment_card, support_user, ticket
from tests.fakes import FakeBillingAdapter, FakeCrmAdapter, FakeIvrAdapter, FakeSupportAdapter
from tests.resolvers.memory_audit import MemoryAuditSink
from tests.resolvers.memory_store import MemoryStore

SCHEMA: strawberry.Schema = build_schema(extensions=[PresentErrors])

QUERY = """{ customer(id: "gen") {
  id displayName
  profile { name email phone address { line1 line2 city postalCode country } }
  billing { paymentCards { brand last4 expMonth expYear } }
  support { tickets(first: 10) { id subject } }
} }"""

#: An interaction for somebody else: it must unlock nothing about the generated customer.
ELSEWHERE = ActiveInteraction(
    interaction_id="int-1",
    contact_id="contact-1",
    customer_id=CustomerId("ada"),
    agent="agent-1",
    level=VerificationLevel.HIGH,
)

READERS = {
    "unverified agent": (Principal("agent-1", "agent"), None),
    "analyst": (Principal("analyst-1", "analyst"), None),
    "agent verified for another customer": (Principal("agent-1", "agent"), ELSEWHERE),
    "supervisor without a purpose": (Principal("supervisor-1", "supervisor"), None),
}


def luhn_complete(payload: str) -> str:
    """``payload`` with its Luhn check digit appended."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return payload + str((10 - total % 10) % 10)


def luhn_valid(digits: str) -> bool:
    return len(digits) >= 2 and luhn_complete(digits[:-1]) == digits


def test_luhn_helper_knows_a_valid_number() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


@dataclass(frozen=True)
class Secrets:
    email: str
    phone: str
    phone_digits: str
    card: str


cards = st.builds(
    luhn_complete,
    st.text(alphabet="0123456789", min_size=14, max_size=14).map(lambda rest: "4" + rest),
)
separators = st.sampled_from(["", " ", "-"])


@st.composite
def secrets(draw: st.DrawFn) -> tuple[Secrets, str, str]:
    """The personal values, and how the card and phone are written in free text."""
    country = draw(st.sampled_from(["1", "44", "49", "33", "61"]))
    # A leading 7-9 keeps a phone from ever looking like a part of a date or an id.
    national = draw(st.sampled_from("789")) + draw(
        st.text(alphabet="0123456789", min_size=9, max_size=9)
    )
    card = draw(cards)
    sep = draw(separators)
    card_written = sep.join(card[i : i + 4] for i in range(0, 16, 4))
    phone_written = f"+{country} {national[:4]}{draw(separators)}{national[4:]}"
    email = draw(st.emails())
    found = Secrets(email=email, phone=phone_written, phone_digits=national, card=card)
    return found, card_written, phone_written


def systems_with(found: Secrets, card_written: str, phone_written: str) -> Sources:
    subject = f"Charged twice on {card_written}; reach me at {found.email} or {phone_written}"
    crm = FakeCrmAdapter(
        [
            crm_contact(
                "5001",
                "Gen",
                "Erated",
                email=found.email,
                phone=found.phone,
                billing_id="cus_gen",
                address=Address(
                    line1=f"Card {card_written}",
                    line2=phone_written,
                    city="Leeds",
                    postal_code="LS1 1AA",
                    country="GB",
                ),
            )
        ]
    )
    billing = FakeBillingAdapter(
        [billing_customer("cus_gen", "Gen Erated", email=found.email)],
        cards={"cus_gen": [payment_card("pm_gen", last4=found.card[-4:])]},
    )
    support = FakeSupportAdapter(
        [support_user("9501", "Gen Erated", email=found.email, external_id="5001")],
        tickets={"9501": [ticket("80001", subject), ticket("80002", found.email)]},
    )
    return Sources.from_adapters(
        {
            Source.BILLING: billing,
            Source.CRM: crm,
            Source.SUPPORT: support,
            Source.IVR: FakeIvrAdapter(),
        }
    )


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
    elif value is not None:
        yield str(value)


#: Digits, possibly grouped by single spaces or dashes, as card numbers are written.
_DIGIT_RUN = re.compile(r"\d(?:[\s\-]?\d)*")
#: Every attribute a log record has before ``extra`` adds any (times, thread ids, ...).
_STANDARD_LOG_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def luhn_valid_numbers(text: str) -> list[str]:
    """Every 13 to 19 digit stretch of a run of digits that passes the Luhn check."""
    found = []
    for run in _DIGIT_RUN.findall(text):
        digits = "".join(ch for ch in run if ch.isdigit())
        for length in range(13, 20):
            for start in range(len(digits) - length + 1):
                if luhn_valid(digits[start : start + length]):
                    found.append(digits[start : start + length])
    return found


def leaks(text: str, found: Secrets) -> list[str]:
    """What of ``found`` appears unmasked in ``text``."""
    digits = "".join(ch for ch in text if ch.isdigit())
    problems = []
    if found.email.lower() in text.lower():
        problems.append("email")
    if found.phone_digits in digits:
        problems.append("phone")
    if found.card in digits:
        problems.append("card")
    if luhn_valid_numbers(text):
        problems.append("luhn-valid number")
    return problems


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # The message and whatever the caller added (``extra``); not the record's own times
        # and ids, whose digits would pass for card numbers one time in ten.
        self.texts.append(record.getMessage())
        self.texts.extend(
            str(value) for key, value in vars(record).items() if key not in _STANDARD_LOG_FIELDS
        )
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))


@contextmanager
def captured_logs() -> Iterator[Capture]:
    root = logging.getLogger()
    handler = Capture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def serve(sources: Sources, reader: str, audit_fails: bool) -> dict[str, Any]:
    store = MemoryStore()
    store.add(
        "gen",
        "Gen Erated",
        [(Source.CRM, "5001"), (Source.BILLING, "cus_gen"), (Source.SUPPORT, "9501")],
    )
    principal, interaction = READERS[reader]
    context = new_context(
        principal,
        store,
        sources,
        "GB",
        interaction=interaction,
        audit=MemoryAuditSink(failing=audit_fails),
    )
    result = await SCHEMA.execute(QUERY, context_value=context)
    return {
        "data": result.data,
        "errors": [error.formatted for error in result.errors or []],
    }


@settings(max_examples=80, deadline=None)
@given(
    secrets=secrets(),
    reader=st.sampled_from(sorted(READERS)),
    audit_fails=st.booleans(),
)
def test_no_unmasked_email_phone_or_card_reaches_those_who_may_not_see_it(
    secrets: tuple[Secrets, str, str], reader: str, audit_fails: bool
) -> None:
    found = secrets[0]
    with captured_logs() as logs:
        response = asyncio.run(serve(systems_with(*secrets), reader, audit_fails))
    assert response["data"]["customer"]["id"] == "gen"
    for text in strings_in(response):
        assert leaks(text, found) == [], (reader, text)
    for text in logs.texts:
        assert leaks(text, found) == [], (reader, text)


def test_the_scan_finds_what_it_looks_for() -> None:
    # The property is only as good as its scanner: an unmasked value must be reported.
    found = Secrets("ada@example.com", "+44 7946 001800", "7946001800", "4111111111111111")
    text = "ada@example.com +44 7946 001800 4111 1111 1111 1111"
    assert leaks(text, found) == ["email", "phone", "card", "luhn-valid number"]
