"""Deterministic dataset generation: the named customers plus N generated people.

One ``random.Random(seed)`` is consumed in a fixed order, and every timestamp is derived
from ``REFERENCE_TIME``, so one (seed, customers) pair gives identical data on every run.
Generated people are spread across the systems with the messiness of real ones (see
``sandbox/README.md``): missing records, per-system phone formats, email case differences,
partial cross-references.
"""

from __future__ import annotations

import base64
import bisect
import gc
import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from sandbox.catalogue import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    IVR_INTENTS,
    IVR_QUEUES,
    LAST_NAMES,
    PRICES,
    STREETS,
    TICKET_DESCRIPTIONS,
    TICKET_SUBJECTS,
    UK_CITIES,
    US_CITIES,
)
from sandbox.named import add_named_customers
from sandbox.records import (
    DAY,
    REFERENCE_TIME,
    BillingCustomer,
    CrmContact,
    Dataset,
    Invoice,
    IvrContact,
    PaymentMethod,
    PostalAddress,
    Price,
    Subscription,
    SupportUser,
    Ticket,
)

T = TypeVar("T")

FIRST_CRM_ID = 2001
FIRST_SUPPORT_ID = 20001
FIRST_TICKET_ID = 100001

YEAR = 365 * DAY
MONTH = 30 * DAY


class _Weights(Generic[T]):
    """Values with integer weights, drawn with a single ``random()`` call each."""

    __slots__ = ("_cumulative", "_total", "_values")

    def __init__(self, *options: tuple[T, int]) -> None:
        self._values = tuple(value for value, _ in options)
        self._cumulative = tuple(itertools.accumulate(weight for _, weight in options))
        self._total = self._cumulative[-1]

    def draw(self, rng: random.Random) -> T:
        """One value, drawn by weight."""
        return self._values[bisect.bisect(self._cumulative, rng.random() * self._total)]


#: Which systems hold a person who is not in all three (the other ~30%), with weights.
PARTIAL_PRESENCE = _Weights(
    (("crm", "billing"), 30),
    (("crm", "support"), 25),
    (("billing", "support"), 10),
    (("crm",), 15),
    (("billing",), 10),
    (("support",), 10),
)
SUBSCRIPTION_STATUSES = _Weights(
    ("active", 70), ("trialing", 5), ("past_due", 5), ("unpaid", 2), ("canceled", 11),
    ("incomplete", 2), ("incomplete_expired", 1), ("paused", 4),
)  # fmt: skip
SUBSCRIPTION_COUNTS = _Weights((0, 20), (1, 65), (2, 15))
PAYMENT_METHOD_COUNTS = _Weights((0, 15), (1, 70), (2, 15))
ONE_OFF_INVOICE_STATUSES = _Weights(("paid", 80), ("void", 10), ("uncollectible", 10))
CARD_BRANDS = _Weights(("visa", 55), ("mastercard", 35), ("amex", 10))
TICKET_COUNTS = _Weights((0, 30), (1, 25), (2, 20), (3, 12), (4, 8), (6, 5))
TICKET_STATUSES = _Weights(
    ("new", 5), ("open", 15), ("pending", 10), ("hold", 3), ("solved", 40), ("closed", 27),
)  # fmt: skip
TICKET_PRIORITIES = _Weights(("low", 20), ("normal", 50), ("high", 20), ("urgent", 5), (None, 5))
TICKET_TYPES = _Weights(
    ("question", 40), ("incident", 25), ("problem", 15), ("task", 5), (None, 15)
)
IVR_REF_TYPES = _Weights(("PHONE", 60), ("ACCOUNT", 20), ("EMAIL", 10), ("CUSTOMER_ID", 10))
AUTH_METHODS = _Weights(("PIN", 40), ("OTP", 30), ("KBA", 20), ("VOICE_BIOMETRIC", 10))
AUTH_RESULTS = _Weights(("AUTHENTICATED", 75), ("NOT_AUTHENTICATED", 15), ("INCONCLUSIVE", 10))
AUTH_SCORES = {
    "AUTHENTICATED": (0.85, 0.99),
    "NOT_AUTHENTICATED": (0.05, 0.40),
    "INCONCLUSIVE": (0.40, 0.70),
}


def generate_dataset(seed: int = 42, customers: int = 2000) -> Dataset:
    """The named customers plus ``customers`` generated people, identical for equal arguments."""
    if customers < 0:
        raise ValueError("customers must be >= 0")
    dataset = Dataset(seed=seed, customers=customers)
    # Millions of small objects and no cycles among them: the cyclic collector would only
    # rescan the growing heap over and over (100,000 customers took 3x as long with it on).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        add_named_customers(dataset)
        _Generator(dataset, random.Random(seed)).generate(customers)
    finally:
        if was_enabled:
            gc.enable()
    return dataset


def _random_id(rng: random.Random, length: int) -> str:
    """Stripe-looking random characters ([A-Za-z0-9]), cheaply."""
    raw = base64.b64encode(rng.randbytes((length + 3) // 4 * 3), altchars=b"xZ")
    return raw[:length].decode()


@dataclass(slots=True)
class _Person:
    """One generated human being, before they are written into each system."""

    index: int
    first: str
    last: str
    email: str
    uk: bool
    #: The national significant number: "7700900123" (UK) or "4155550101" (US).
    national: str
    line1: str
    city: str
    state: str | None
    postal_code: str
    created: int

    @property
    def e164(self) -> str:
        """The number in E.164, as the IVR sees callers."""
        return f"+44{self.national}" if self.uk else f"+1{self.national}"


class _Generator:
    def __init__(self, dataset: Dataset, rng: random.Random) -> None:
        self.dataset = dataset
        self.rng = rng
        self.next_crm_id = FIRST_CRM_ID
        self.next_support_id = FIRST_SUPPORT_ID
        self.next_ticket_id = FIRST_TICKET_ID

    def generate(self, count: int) -> None:
        """Add ``count`` generated people to the dataset."""
        rng = self.rng
        # Numbers drawn without replacement so no two people share a phone (until a space
        # runs out, far beyond any benchmark size).
        uk_numbers = iter(rng.sample(range(1_000_000), min(count, 1_000_000)))
        us_numbers = iter(rng.sample(range(len(US_CITIES) * 10_000), min(count, 120_000)))
        for index in range(count):
            person = self._person(index, uk_numbers, us_numbers)
            if rng.random() < 0.70:
                systems: tuple[str, ...] = ("crm", "billing", "support")
            else:
                systems = PARTIAL_PRESENCE.draw(rng)
            billing_id = self._billing(person) if "billing" in systems else None
            crm_id = self._crm(person, billing_id) if "crm" in systems else None
            if "support" in systems:
                self._support(person, crm_id)
            if rng.random() < 0.25:
                self._ivr_contacts(person, crm_id, billing_id)

    def _person(self, index: int, uk_numbers: Iterator[int], us_numbers: Iterator[int]) -> _Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("'", "")
        email = f"{local}{index + 1}@{rng.choice(EMAIL_DOMAINS)}"
        uk = rng.random() < 0.6
        street = f"{rng.randrange(1, 300)} {rng.choice(STREETS)}"
        created = REFERENCE_TIME - rng.randrange(30 * DAY, 5 * YEAR)
        if uk:
            number = next(uk_numbers, None)
            digits = number if number is not None else rng.randrange(1_000_000)
            city, prefix = rng.choice(UK_CITIES)
            postal_code = f"{prefix} {rng.randrange(1, 10)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            postal_code += rng.choice("ABDEFGHJLNPQRSTUWXYZ")
            return _Person(
                index, first, last, email, True, f"7700{digits:06d}", street, city, None,
                postal_code, created,
            )  # fmt: skip
        number = next(us_numbers, None)
        slot = number if number is not None else rng.randrange(len(US_CITIES) * 10_000)
        city, state, zip_code, area = US_CITIES[slot // 10_000]
        return _Person(
            index, first, last, email, False, f"{area}555{slot % 10_000:04d}", street, city, state,
            zip_code, created,
        )  # fmt: skip

    # --- per-system formatting ------------------------------------------------------

    def _phone(self, person: _Person, preferred: int) -> str:
        """The person's phone as one system writes it; ``preferred`` is that system's habit."""
        n = person.national
        formats: tuple[str, ...]
        if person.uk:
            formats = (f"+44 {n[:4]} {n[4:]}", f"+44{n}", f"+44 {n}")
        else:
            formats = (
                f"({n[:3]}) {n[3:6]}-{n[6:]}",
                f"+1{n}",
                f"{n[:3]}.{n[3:6]}.{n[6:]}",
                f"{n[:3]}-{n[3:6]}-{n[6:]}",
                f"+1 {n[:3]}-{n[3:6]}-{n[6:]}",
            )
        choice = preferred if self.rng.random() < 0.6 else self.rng.randrange(len(formats))
        return formats[min(choice, len(formats) - 1)]

    def _email_variant(self, person: _Person, different: float) -> str:
        roll = self.rng.random()
        if roll < different:
            return f"{person.first[0]}{person.last}{person.index + 1}@{EMAIL_DOMAINS[0]}".lower()
        if roll < different + 0.12:
            return person.email.title()
        if roll < different + 0.17:
            return person.email.upper()
        return person.email

    # --- billing ---------------------------------------------------------------------

    def _billing(self, person: _Person) -> str:
        rng = self.rng
        billing = self.dataset.billing
        currency = "gbp" if person.uk else "usd"
        address = None
        if rng.random() < 0.8:
            address = PostalAddress(
                person.line1,
                None,
                person.city,
                person.state,
                person.postal_code,
                "GB" if person.uk else "US",
            )
        customer = billing.customers.add(
            BillingCustomer(
                id=f"cus_{_random_id(rng, 14)}",
                name=f"{person.first} {person.last}",
                email=self._email_variant(person, 0.0) if rng.random() < 0.97 else None,
                phone=self._phone(person, 1) if rng.random() < 0.9 else None,
                address=address,
                currency=currency,
                created=person.created + rng.randrange(2 * DAY),
                balance=-rng.randrange(1, 50) * 100 if rng.random() < 0.05 else 0,
            )
        )
        invoices: list[Invoice] = []
        for _ in range(SUBSCRIPTION_COUNTS.draw(rng)):
            invoices.extend(self._subscription(customer, currency))
        if rng.random() < 0.05:
            invoices.append(self._one_off_invoice(customer, currency))
        invoices.sort(key=lambda invoice: (invoice.created, invoice.id))
        prefix = f"{rng.getrandbits(32):08X}"
        numbered = 0
        for invoice in invoices:
            if invoice.status != "draft":
                numbered += 1
                invoice.number = f"{prefix}-{numbered:04d}"
            billing.invoices.add(invoice)
        customer.delinquent = any(
            invoice.status == "open"
            and invoice.due_date is not None
            and invoice.due_date < REFERENCE_TIME
            for invoice in invoices
        )
        for _ in range(PAYMENT_METHOD_COUNTS.draw(rng)):
            billing.payment_methods.add(
                PaymentMethod(
                    id=f"pm_{_random_id(rng, 24)}",
                    customer=customer.id,
                    created=customer.created + rng.randrange(DAY),
                    brand=CARD_BRANDS.draw(rng),
                    last4=f"{rng.randrange(10_000):04d}",
                    exp_month=rng.randrange(1, 13),
                    exp_year=rng.randrange(2024, 2031),
                )
            )
        return customer.id

    def _subscription(self, customer: BillingCustomer, currency: str) -> list[Invoice]:
        rng = self.rng
        status = SUBSCRIPTION_STATUSES.draw(rng)
        plan = rng.choice(("basic", "pro", "pro", "team", "pro_yearly"))
        if plan == "pro_yearly":
            price = PRICES[f"price_pro_yearly_{currency}"]
        else:
            price = PRICES[f"price_{plan}_monthly_{currency}"]
        period = YEAR if price.interval == "year" else MONTH
        quantity = rng.choice((1, 1, 1, 2, 5)) if plan == "team" else 1
        earliest = customer.created
        if status in ("trialing", "incomplete", "incomplete_expired"):
            # Short-lived states: started recently (a trial lasts 14 days).
            earliest = max(earliest, REFERENCE_TIME - 12 * DAY)
        created = rng.randrange(earliest, REFERENCE_TIME - DAY)
        periods = max(1, (REFERENCE_TIME - created) // period + 1)
        if status == "canceled":
            periods = rng.randrange(1, periods + 1)
            # A canceled subscription ended at the close of its last paid period.
            end = min(created + periods * period, REFERENCE_TIME - DAY)
        elif status == "trialing":
            end = created + 14 * DAY
        else:
            end = created + periods * period
        subscription = self.dataset.billing.subscriptions.add(
            Subscription(
                id=f"sub_{_random_id(rng, 24)}",
                customer=customer.id,
                status=status,
                price=price,
                item_id=f"si_{_random_id(rng, 14)}",
                created=created,
                current_period_end=end,
                quantity=quantity,
                cancel_at_period_end=status == "active" and rng.random() < 0.05,
            )
        )
        statuses = self._invoice_statuses(status, periods)
        first_period = periods - len(statuses)
        invoices = [
            self._invoice(subscription, price, created + (first_period + n) * period, status_)
            for n, status_ in enumerate(statuses)
        ]
        if status == "active" and rng.random() < 0.08:
            invoices.append(self._invoice(subscription, price, REFERENCE_TIME - 3_600, "draft"))
        return invoices

    def _invoice_statuses(self, subscription_status: str, periods: int) -> list[str]:
        """The statuses of the subscription's newest invoices, oldest first."""
        rng = self.rng
        if subscription_status == "trialing":
            return []
        if subscription_status == "incomplete":
            return ["open"]
        if subscription_status == "incomplete_expired":
            return ["void"]
        # Histories are trimmed to the newest few periods to keep big datasets small.
        count = min(periods, rng.randrange(1, 9))
        statuses = ["paid"] * count
        if subscription_status == "past_due":
            statuses[-1] = "open"
        elif subscription_status == "unpaid":
            statuses[-2:] = ["uncollectible", "open"][-count:]
        elif subscription_status == "canceled" and rng.random() < 0.3:
            statuses[-1] = "void"
        return statuses

    def _invoice(
        self, subscription: Subscription, price: Price, created: int, status: str
    ) -> Invoice:
        amount = price.unit_amount * subscription.quantity
        paid = status == "paid"
        return Invoice(
            id=f"in_{_random_id(self.rng, 24)}",
            customer=subscription.customer,
            number=None,
            status=status,
            currency=price.currency,
            amount_due=amount,
            amount_paid=amount if paid else 0,
            created=created,
            due_date=None if status == "draft" else created + 14 * DAY,
            paid_at=created + self.rng.randrange(3 * DAY) if paid else None,
            subscription=subscription.id,
        )

    def _one_off_invoice(self, customer: BillingCustomer, currency: str) -> Invoice:
        rng = self.rng
        created = rng.randrange(customer.created, REFERENCE_TIME - DAY)
        status = ONE_OFF_INVOICE_STATUSES.draw(rng)
        amount = rng.randrange(5, 200) * 100
        return Invoice(
            id=f"in_{_random_id(rng, 24)}",
            customer=customer.id,
            number=None,
            status=status,
            currency=currency,
            amount_due=amount,
            amount_paid=amount if status == "paid" else 0,
            created=created,
            due_date=created + 30 * DAY,
            paid_at=created + DAY if status == "paid" else None,
            subscription=None,
        )

    # --- CRM ---------------------------------------------------------------------------

    def _crm(self, person: _Person, billing_id: str | None) -> str:
        rng = self.rng
        contact_id = str(self.next_crm_id)
        self.next_crm_id += 1
        created = person.created + rng.randrange(DAY)
        self.dataset.crm.contacts.add(
            CrmContact(
                id=contact_id,
                properties={
                    "firstname": person.first,
                    "lastname": person.last,
                    "email": person.email if rng.random() < 0.97 else None,
                    "phone": self._phone(person, 0) if rng.random() < 0.9 else None,
                    "address": person.line1,
                    "city": person.city,
                    "state": person.state,
                    "zip": person.postal_code,
                    "country": "United Kingdom" if person.uk else "United States",
                    "billing_customer_id": (
                        billing_id if billing_id and rng.random() < 0.85 else None
                    ),
                },
                created=created,
                updated=min(created + rng.randrange(365 * DAY), REFERENCE_TIME),
            )
        )
        return contact_id

    # --- support -----------------------------------------------------------------------

    def _support(self, person: _Person, crm_id: str | None) -> None:
        rng = self.rng
        support = self.dataset.support
        user_id = self.next_support_id
        self.next_support_id += 1
        created = person.created + rng.randrange(3 * DAY)
        support.users.add(
            SupportUser(
                id=user_id,
                name=f"{person.first} {person.last}",
                email=self._email_variant(person, 0.08),
                phone=self._phone(person, 2) if rng.random() < 0.7 else None,
                external_id=crm_id if crm_id and rng.random() < 0.6 else None,
                created=created,
                updated=created,
            )
        )
        for _ in range(TICKET_COUNTS.draw(rng)):
            opened = rng.randrange(created, REFERENCE_TIME)
            support.tickets.add(
                Ticket(
                    id=self.next_ticket_id,
                    requester_id=user_id,
                    subject=rng.choice(TICKET_SUBJECTS),
                    description=rng.choice(TICKET_DESCRIPTIONS),
                    status=TICKET_STATUSES.draw(rng),
                    priority=TICKET_PRIORITIES.draw(rng),
                    type=TICKET_TYPES.draw(rng),
                    created=opened,
                    updated=min(opened + rng.randrange(10 * DAY), REFERENCE_TIME),
                )
            )
            self.next_ticket_id += 1

    # --- IVR ---------------------------------------------------------------------------

    def _ivr_contacts(self, person: _Person, crm_id: str | None, billing_id: str | None) -> None:
        rng = self.rng
        for _ in range(rng.choice((1, 1, 2))):
            ref_type = IVR_REF_TYPES.draw(rng)
            ref_value = {
                "PHONE": person.e164,
                "ACCOUNT": billing_id,
                "EMAIL": person.email,
                "CUSTOMER_ID": crm_id,
            }[ref_type]
            if ref_value is None:
                ref_type, ref_value = "PHONE", person.e164
            result = AUTH_RESULTS.draw(rng)
            low, high = AUTH_SCORES[result]
            intent = rng.choice(IVR_INTENTS)
            self.dataset.ivr.contacts.add(
                IvrContact(
                    id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    initiated=REFERENCE_TIME - rng.randrange(1, 90 * DAY),
                    caller_number=person.e164,
                    attributes={
                        "CallerNumber": person.e164,
                        "CustomerRefType": ref_type,
                        "CustomerRefValue": ref_value,
                        "AuthMethod": AUTH_METHODS.draw(rng),
                        "AuthResult": result,
                        "AuthScore": f"{rng.uniform(low, high):.2f}",
                        "Intent": intent,
                        "QueueName": IVR_QUEUES[intent],
                        "Language": "en-GB" if person.uk else "en-US",
                    },
                )
            )
