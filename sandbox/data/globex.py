"""Globex's own account of every system: another client's customers, on the same platform.

The sandbox serves this dataset as a second account of each system (``sandbox/accounts.py``),
with its own API keys, so that the gateway's second tenant has sources of its own:

- Hedy Lamarr (hedy.lamarr@example.com) lives only here: no record of hers is in the
  default account (acme's);
- Grace Hopper (grace.hopper@example.com) is a customer of both clients: the same person and
  email, but other records here (globex's CRM contact 5002, billing ``cus_globex_grace`` on
  another plan with an unpaid invoice, her own ticket), never linked to acme's.

Ids are globex's own ranges (CRM 5001-, support 95001-, tickets 80001-, ``cus_hedy``), so
that no record id of one account names a record of the other. Like the named customers,
these are the same records whatever the seed (tests and the README rely on them).
"""

from __future__ import annotations

from sandbox.catalogue import PRICES
from sandbox.data.named import _at, _contact, _monthly_invoices, _ticket
from sandbox.records import (
    DAY,
    BillingCustomer,
    Dataset,
    IvrContact,
    PaymentMethod,
    PostalAddress,
    Subscription,
    SupportUser,
)

#: The account's name: its tenant in the gateway, its path in the sandbox.
GLOBEX = "globex"
HEDY_EMAIL = "hedy.lamarr@example.com"
SHARED_EMAIL = "grace.hopper@example.com"


def globex_dataset(seed: int = 42) -> Dataset:
    """Globex's account: Hedy Lamarr and its own Grace Hopper (no generated people)."""
    dataset = Dataset(seed=seed, customers=0)
    _add_hedy(dataset)
    _add_globex_grace(dataset)
    return dataset


def _add_hedy(dataset: Dataset) -> None:
    phone = "+1 310 555 0142"
    address = PostalAddress("1 Frequency Way", None, "Los Angeles", "CA", "90028", "US")
    created = _at("2024-01-15T17:00:00")
    dataset.crm.contacts.add(
        _contact("5001", "Hedy", "Lamarr", HEDY_EMAIL, phone, address, "cus_hedy", created)
    )
    dataset.billing.customers.add(
        BillingCustomer("cus_hedy", "Hedy Lamarr", HEDY_EMAIL, "+13105550142", address, "usd",
                        created + 300)
    )  # fmt: skip
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_hedy",
            customer="cus_hedy",
            status="active",
            price=PRICES["price_pro_yearly_usd"],
            item_id="si_hedy",
            created=_at("2024-01-20T09:00:00"),
            current_period_end=_at("2025-01-20T09:00:00"),
        )
    )
    _monthly_invoices(dataset, subscription, "hedy", ["paid"])
    dataset.billing.payment_methods.add(
        PaymentMethod("pm_hedy_amex", "cus_hedy", subscription.created, "amex", "0005", 3, 2029)
    )
    dataset.support.users.add(
        SupportUser(95001, "Hedy Lamarr", HEDY_EMAIL, phone, "5001", created + DAY, created + DAY)
    )
    for ticket in (
        _ticket(80001, 95001, "Frequency hopping on my plan", "open", "high",
                _at("2024-05-29T14:00:00")),
        _ticket(80002, 95001, "Receipt for the annual plan", "solved", "low",
                _at("2024-02-01T10:00:00")),
    ):  # fmt: skip
        dataset.support.tickets.add(ticket)
    dataset.ivr.contacts.add(
        IvrContact(
            id="contact-hedy-0001",
            initiated=_at("2024-05-31T16:00:00"),
            caller_number="+13105550142",
            attributes={
                "CallerNumber": "+13105550142",
                "CustomerRefType": "PHONE",
                "CustomerRefValue": "+13105550142",
                "AuthMethod": "PIN",
                "AuthResult": "AUTHENTICATED",
                "AuthScore": "0.95",
                "Intent": "SUPPORT",
                "QueueName": "Support",
                "Language": "en-US",
            },
        )
    )


def _add_globex_grace(dataset: Dataset) -> None:
    address = PostalAddress("500 Howard St", "Floor 3", "San Francisco", "CA", "94105", "US")
    created = _at("2024-03-10T11:00:00")
    dataset.crm.contacts.add(
        _contact("5002", "Grace", "Hopper", SHARED_EMAIL, "(415) 555-0101", address,
                 "cus_globex_grace", created)
    )  # fmt: skip
    dataset.billing.customers.add(
        BillingCustomer("cus_globex_grace", "Grace Hopper", SHARED_EMAIL, "+14155550101",
                        address, "usd", created + 600)
    )  # fmt: skip
    subscription = dataset.billing.subscriptions.add(
        Subscription(
            id="sub_globex_grace",
            customer="cus_globex_grace",
            status="past_due",
            price=PRICES["price_basic_monthly_usd"],
            item_id="si_globex_grace",
            created=_at("2024-03-15T12:00:00"),
            current_period_end=_at("2024-06-15T12:00:00"),
        )
    )
    _monthly_invoices(dataset, subscription, "globex_grace", ["paid", "paid", "open"])
    dataset.support.users.add(
        SupportUser(95002, "Grace Hopper", SHARED_EMAIL, "415.555.0101", "5002", created + DAY,
                    created + DAY)
    )  # fmt: skip
    dataset.support.tickets.add(
        _ticket(80003, 95002, "Why is my account past due?", "open", "normal",
                _at("2024-05-20T09:15:00"))
    )  # fmt: skip
