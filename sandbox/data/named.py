"""The six named customers: the same records in every dataset, whatever the seed.

Each one exercises one identity or money case (see the table in ``sandbox/README.md``);
tests and the demo rely on these exact facts, so change them only together with the README.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sandbox.catalogue import PRICES
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
    Subscription,
    SupportUser,
    Ticket,
)

HOUR = 3_600


def _at(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp())


def _add_months(timestamp: int, months: int) -> int:
    moment = datetime.fromtimestamp(timestamp, UTC)
    month_index = moment.month - 1 + months
    return int(
        moment.replace(year=moment.year + month_index // 12, month=month_index % 12 + 1).timestamp()
    )


def _contact(
    contact_id: str,
    first: str,
    last: str,
    email: str,
    phone: str | None,
    address: PostalAddress,
    billing_customer_id: str | None,
    created: int,
) -> CrmContact:
    country = {"GB": "United Kingdom", "US": "United States"}.get(address.country or "")
    return CrmContact(
        id=contact_id,
        properties={
            "firstname": first,
            "lastname": last,
            "email": email,
            "phone": phone,
            "address": address.line1,
            "city": address.city,
            "state": address.state,
            "zip": address.postal_code,
            "country": country,
            "billing_customer_id": billing_customer_id,
        },
        created=created,
        updated=created + 30 * DAY,
    )


def _monthly_invoices(
    dataset: Dataset,
    subscription: Subscription,
    prefix: str,
    statuses: list[str],
) -> None:
    """One invoice per month from the subscription's start, oldest first, with these statuses."""
    for n, status in enumerate(statuses, start=1):
        created = _add_months(subscription.created, n - 1)
        amount = subscription.price.unit_amount * subscription.quantity
        dataset.billing.invoices.add(
            Invoice(
                id=f"in_{prefix.lower()}_{n:04d}",
                customer=subscription.customer,
                number=f"{prefix.upper()}-{n:04d}",
                status=status,
                currency=subscription.price.currency,
                amount_due=amount,
                amount_paid=amount if status == "paid" else 0,
                created=created,
                due_date=created + 14 * DAY,
                paid_at=created + HOUR if status == "paid" else None,
                subscription=subscription.id,
            )
        )


def _ticket(
    ticket_id: int, requester: int, subject: str, status: str, priority: str, created: int
) -> Ticket:
    return Ticket(
        id=ticket_id,
        requester_id=requester,
        subject=subject,
        description=f"{subject}. Please help.",
        status=status,
        priority=priority,
        type="question",
        created=created,
        updated=created + 2 * HOUR,
    )


def add_named_customers(dataset: Dataset) -> None:
    """Add the six named customers to ``dataset`` (ids 1001-1007, 9001-9007, ``cus_<name>``)."""
    _add_ada(dataset)
    _add_grace(dataset)
    _add_alan(dataset)
    _add_katherine(dataset)
    _add_edsger(dataset)
    _add_barbara(dataset)


def _add_ada(dataset: Dataset) -> None:
    email, phone = "ada.lovelace@example.com", "+44 20 7946 0018"
    address = PostalAddress("12 St James's Square", None, "London", None, "SW1Y 4JH", "GB")
    created = _at("2023-06-01T10:00:00")
    ada = _contact("1001", "Ada", "Lovelace", email, phone, address, "cus_ada", created)
    # A knowledge-check fact (verifyCaller): only Ada has one, so the others show its absence.
    ada.properties["date_of_birth"] = "1815-12-10"
    dataset.crm.contacts.add(ada)
    dataset.billing.customers.add(
        BillingCustomer("cus_ada", "Ada Lovelace", email, phone, address, "gbp", created + 300)
    )
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_ada",
            customer="cus_ada",
            status="active",
            price=PRICES["price_pro_monthly_gbp"],
            item_id="si_ada",
            created=_at("2023-06-20T09:00:00"),
            current_period_end=_at("2024-06-20T09:00:00"),
        )
    )
    _monthly_invoices(dataset, subscription, "ada", ["paid"] * 12)
    dataset.billing.payment_methods.add(
        PaymentMethod("pm_ada_visa", "cus_ada", subscription.created, "visa", "4242", 12, 2030)
    )
    dataset.support.users.add(
        SupportUser(9001, "Ada Lovelace", email, phone, "1001", created + DAY, created + DAY)
    )
    for ticket in (
        _ticket(70001, 9001, "Invoice shows the wrong address", "open", "normal",
                _at("2024-05-28T10:00:00")),
        _ticket(70002, 9001, "Card declined at checkout", "pending", "high",
                _at("2024-05-10T15:30:00")),
        _ticket(70003, 9001, "How do I change my plan?", "solved", "low",
                _at("2024-02-03T11:15:00")),
    ):  # fmt: skip
        dataset.support.tickets.add(ticket)
    dataset.ivr.contacts.add(
        IvrContact(
            id="contact-ada-0001",
            initiated=_at("2024-05-31T09:30:00"),
            caller_number="+442079460018",
            attributes={
                "CallerNumber": "+442079460018",
                "CustomerRefType": "PHONE",
                "CustomerRefValue": "+442079460018",
                "AuthMethod": "PIN",
                "AuthResult": "AUTHENTICATED",
                "AuthScore": "0.97",
                "Intent": "BILLING_ENQUIRY",
                "QueueName": "Billing",
                "Language": "en-GB",
            },
        )
    )


def _add_grace(dataset: Dataset) -> None:
    email = "grace.hopper@example.com"
    address = PostalAddress("500 Howard St", "Floor 3", "San Francisco", "CA", "94105", "US")
    created = _at("2024-02-26T16:20:00")
    dataset.crm.contacts.add(
        _contact("1002", "Grace", "Hopper", email, "(415) 555-0101", address, None, created)
    )
    dataset.billing.customers.add(
        BillingCustomer(
            "cus_grace", "Grace Hopper", email, "+14155550101", address, "usd", created + 600
        )
    )
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_grace",
            customer="cus_grace",
            status="active",
            price=PRICES["price_team_monthly_usd"],
            item_id="si_grace",
            created=_at("2024-03-05T12:00:00"),
            current_period_end=_at("2024-06-05T12:00:00"),
        )
    )
    _monthly_invoices(dataset, subscription, "grace", ["paid"] * 3)
    dataset.billing.payment_methods.add(
        PaymentMethod(
            "pm_grace_mastercard", "cus_grace", subscription.created, "mastercard", "5454", 8, 2027
        )
    )
    dataset.support.users.add(
        SupportUser(9002, "Grace Hopper", email, "415.555.0101", None, created + DAY, created + DAY)
    )
    dataset.support.tickets.add(
        _ticket(70004, 9002, "Export my data", "solved", "normal", _at("2024-04-11T08:45:00"))
    )


def _add_alan(dataset: Dataset) -> None:
    address = PostalAddress("Sherwood Drive", "Bletchley", "Milton Keynes", None, "MK3 6EB", "GB")
    created = _at("2023-01-09T09:00:00")
    dataset.crm.contacts.add(
        _contact(
            "1003",
            "Alan",
            "Turing",
            "alan.turing@example.com",
            "+44 161 496 0311",
            address,
            None,
            created,
        )
    )
    dataset.billing.customers.add(
        BillingCustomer(
            "cus_alan", "Alan Turing", "ALAN.TURING@EXAMPLE.COM", None, address, "gbp", created
        )
    )
    for n, when in enumerate(("2023-11-02T10:00:00", "2024-04-02T10:00:00"), start=1):
        issued = _at(when)
        dataset.billing.invoices.add(
            Invoice(
                id=f"in_alan_{n:04d}",
                customer="cus_alan",
                number=f"ALAN-{n:04d}",
                status="paid",
                currency="gbp",
                amount_due=2500,
                amount_paid=2500,
                created=issued,
                due_date=issued + 14 * DAY,
                paid_at=issued + DAY,
                subscription=None,
            )
        )
    dataset.support.users.add(
        SupportUser(
            9003, "Alan Turing", "alan@turing.example", None, "1003", created + DAY, created + DAY
        )
    )
    dataset.support.tickets.add(
        _ticket(70005, 9003, "Refund request", "new", "normal", _at("2024-05-30T17:05:00"))
    )


def _add_katherine(dataset: Dataset) -> None:
    email = "katherine.johnson@example.com"
    address = PostalAddress("1 Langley Blvd", None, "Hampton", "VA", "23666", "US")
    created = _at("2022-09-01T14:00:00")
    dataset.crm.contacts.add(
        _contact(
            "1004", "Katherine", "Johnson", email, "(757) 555-0142", address, "cus_katherine",
            created,
        )
    )  # fmt: skip
    dataset.crm.contacts.add(
        _contact(
            "1005",
            "Katherine",
            "Johnson",
            email,
            None,
            PostalAddress(None, None, "Hampton", "VA", None, "US"),
            None,
            _at("2023-11-14T10:30:00"),
        )
    )
    dataset.billing.customers.add(
        BillingCustomer(
            "cus_katherine",
            "Katherine Johnson",
            email,
            "+17575550142",
            address,
            "usd",
            created + 900,
        )
    )
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_katherine",
            customer="cus_katherine",
            status="active",
            price=PRICES["price_basic_monthly_usd"],
            item_id="si_katherine",
            created=_at("2024-02-01T08:00:00"),
            current_period_end=_at("2024-06-01T08:00:00"),
        )
    )
    _monthly_invoices(dataset, subscription, "katherine", ["paid"] * 4)
    dataset.billing.payment_methods.add(
        PaymentMethod(
            "pm_katherine_visa", "cus_katherine", subscription.created, "visa", "1881", 1, 2026
        )
    )
    dataset.support.users.add(
        SupportUser(9004, "Katherine Johnson", email, None, "1004", created + DAY, created + DAY)
    )
    dataset.support.tickets.add(
        _ticket(70006, 9004, "Where is my receipt?", "closed", "low", _at("2024-03-02T13:00:00"))
    )
    dataset.support.tickets.add(
        _ticket(70007, 9004, "Upgrade to the Team plan", "hold", "normal",
                _at("2024-05-22T09:40:00"))
    )  # fmt: skip


def _add_edsger(dataset: Dataset) -> None:
    address = PostalAddress("2317 Speedway", None, "Austin", "TX", "78712", "US")
    dataset.crm.contacts.add(
        _contact(
            "1006",
            "Edsger",
            "Dijkstra",
            "edsger.dijkstra@example.com",
            "(512) 555-0106",
            address,
            None,
            _at("2021-08-06T12:00:00"),
        )
    )


#: Barbara's 150 tickets: 40 not finished (new, open, pending, hold), 110 solved or closed.
BARBARA_TICKET_STATUSES = (
    ["new"] * 5 + ["open"] * 20 + ["pending"] * 10 + ["hold"] * 5 + ["solved"] * 70
    + ["closed"] * 40
)  # fmt: skip


def _add_barbara(dataset: Dataset) -> None:
    email = "barbara.liskov@example.com"
    address = PostalAddress("32 Vassar St", None, "Cambridge", "MA", "02139", "US")
    created = _at("2023-10-01T09:00:00")
    dataset.crm.contacts.add(
        _contact(
            "1007", "Barbara", "Liskov", email, "+1 617-555-0107", address, "cus_barbara", created
        )
    )
    dataset.billing.customers.add(
        BillingCustomer(
            "cus_barbara",
            "Barbara Liskov",
            email,
            "+16175550107",
            address,
            "usd",
            created + 120,
            delinquent=True,
        )
    )
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_barbara",
            customer="cus_barbara",
            status="past_due",
            price=PRICES["price_team_monthly_usd"],
            item_id="si_barbara",
            created=_at("2023-10-15T09:00:00"),
            current_period_end=_at("2024-06-15T09:00:00"),
        )
    )
    # The two newest are open, and their due dates (14 days on) lie before REFERENCE_TIME.
    _monthly_invoices(dataset, subscription, "barbara", ["paid"] * 6 + ["open"] * 2)
    dataset.billing.payment_methods.add(
        PaymentMethod("pm_barbara_visa", "cus_barbara", subscription.created, "visa", "0341", 3,
                      2024)
    )  # fmt: skip
    dataset.support.users.add(
        SupportUser(
            9007, "Barbara Liskov", email, "617-555-0107", "1007", created + DAY, created + DAY
        )
    )
    # A fixed generator, not the dataset's: Barbara is the same whatever the seed.
    rng = random.Random(1007)
    statuses = list(BARBARA_TICKET_STATUSES)
    rng.shuffle(statuses)
    first = _at("2023-10-20T08:00:00")
    for n, status in enumerate(statuses):
        opened = first + n * 36 * HOUR + rng.randrange(12 * HOUR)
        subject = rng.choice(
            ["Card declined again", "Service outage this morning", "Why am I past due?",
             "Refund request", "Cannot log in to my account", "Charged twice this month"]
        )  # fmt: skip
        ticket = _ticket(70101 + n, 9007, subject, status, rng.choice(["normal", "high"]), opened)
        ticket.updated = min(opened + rng.randrange(5 * DAY), REFERENCE_TIME)
        dataset.support.tickets.add(ticket)
