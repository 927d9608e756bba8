"""Stripe's shapes: its objects and its error envelope, written from the sandbox's records.

The statuses Stripe knows for subscriptions and invoices live here too: the read endpoints
check their filters against them and the OpenAPI schemas list them.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.records import BillingCustomer, Invoice, PaymentMethod, Subscription
from sandbox.responses import JSON, VendorError

SUBSCRIPTION_STATUSES = frozenset(
    {
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
    }
)
INVOICE_STATUSES = frozenset({"draft", "open", "paid", "uncollectible", "void"})


# --- errors -----------------------------------------------------------------------------


def stripe_error(
    status: int, type_: str, code: str, message: str, param: str | None = None
) -> VendorError:
    """An error in Stripe's envelope."""
    return VendorError(
        status, {"error": {"type": type_, "code": code, "message": message, "param": param}}
    )


def invalid_param(param: str) -> Callable[[str], VendorError]:
    """The 400 for a bad value of ``param``."""

    def make(message: str) -> VendorError:
        return stripe_error(400, "invalid_request_error", "parameter_invalid", message, param)

    return make


# --- rendering --------------------------------------------------------------------------


def render_customer(customer: BillingCustomer) -> JSON:
    """A customer as Stripe writes it."""
    address = customer.address
    return {
        "id": customer.id,
        "object": "customer",
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "address": None
        if address is None
        else {
            "line1": address.line1,
            "line2": address.line2,
            "city": address.city,
            "state": address.state,
            "postal_code": address.postal_code,
            "country": address.country,
        },
        "balance": customer.balance,
        "currency": customer.currency,
        "delinquent": customer.delinquent,
        "created": customer.created,
        "metadata": dict(customer.metadata),
    }


def render_subscription(subscription: Subscription) -> JSON:
    """A subscription (with its one item) as Stripe writes it."""
    price = subscription.price
    return {
        "id": subscription.id,
        "object": "subscription",
        "customer": subscription.customer,
        "status": subscription.status,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "current_period_end": subscription.current_period_end,
        "created": subscription.created,
        "currency": price.currency,
        "items": {
            "object": "list",
            "has_more": False,
            "data": [
                {
                    "id": subscription.item_id,
                    "quantity": subscription.quantity,
                    "price": {
                        "id": price.id,
                        "nickname": price.nickname,
                        "unit_amount": price.unit_amount,
                        "currency": price.currency,
                        "recurring": {"interval": price.interval},
                    },
                }
            ],
        },
    }


def render_invoice(invoice: Invoice) -> JSON:
    """An invoice as Stripe writes it."""
    return {
        "id": invoice.id,
        "object": "invoice",
        "customer": invoice.customer,
        "number": invoice.number,
        "status": invoice.status,
        "currency": invoice.currency,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "amount_remaining": invoice.amount_remaining,
        "created": invoice.created,
        "due_date": invoice.due_date,
        "status_transitions": {"paid_at": invoice.paid_at},
        "subscription": invoice.subscription,
    }


def render_payment_method(method: PaymentMethod) -> JSON:
    """A card payment method as Stripe writes it."""
    return {
        "id": method.id,
        "object": "payment_method",
        "type": "card",
        "customer": method.customer,
        "created": method.created,
        "card": {
            "brand": method.brand,
            "last4": method.last4,
            "exp_month": method.exp_month,
            "exp_year": method.exp_year,
        },
    }
