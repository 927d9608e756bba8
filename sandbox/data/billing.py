"""Generated billing histories: a person's Stripe customer, subscriptions, invoices and cards.

Invoices follow from each subscription's status (a past_due one ends with an open invoice,
an unpaid one with an uncollectible and an open one), trimmed to the newest few periods.
"""

from __future__ import annotations

import base64
import random

from sandbox.catalogue import PRICES
from sandbox.data.people import MONTH, YEAR, _Person, _PersonWriter
from sandbox.data.weights import (
    CARD_BRANDS,
    ONE_OFF_INVOICE_STATUSES,
    PAYMENT_METHOD_COUNTS,
    SUBSCRIPTION_COUNTS,
    SUBSCRIPTION_STATUSES,
)
from sandbox.records import (
    DAY,
    REFERENCE_TIME,
    BillingCustomer,
    Invoice,
    PaymentMethod,
    PostalAddress,
    Price,
    Subscription,
)


def _random_id(rng: random.Random, length: int) -> str:
    """Stripe-looking random characters ([A-Za-z0-9]), cheaply."""
    raw = base64.b64encode(rng.randbytes((length + 3) // 4 * 3), altchars=b"xZ")
    return raw[:length].decode()


class _BillingWriter(_PersonWriter):
    """The generator's billing part: a person's records in billing, drawn from its stream."""

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
