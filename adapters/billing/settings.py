"""Billing's settings section (``SCV_BILLING__...``): where it is, its key, its status words."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SANDBOX_URL, RateLimitSettings, SignedWebhooksSettings


class BillingSettings(SignedWebhooksSettings):
    """Billing (Stripe-shaped): the system of record for money."""

    base_url: str = f"{SANDBOX_URL}/billing"
    rate_limit: RateLimitSettings = Field(
        # Stripe's live mode: 100 read operations per second (docs/limits.md).
        default_factory=lambda: RateLimitSettings(per_second=100.0),
        description="calls per second to billing, everyone's together (Stripe: 100/s)",
    )
    api_key: SecretStr = SecretStr("sk_test_scv_sandbox")
    webhook_secret: SecretStr = Field(
        default=SecretStr("whsec_scv_sandbox"),
        description="Stripe endpoint signing secret (whsec_...), checks Stripe-Signature "
        "on /webhooks/billing",
    )
    subscription_status: dict[str, str] = {
        "trialing": "TRIALING",
        "active": "ACTIVE",
        "past_due": "PAST_DUE",
        "unpaid": "UNPAID",
        "canceled": "CANCELED",
        "incomplete": "INCOMPLETE",
        "incomplete_expired": "CANCELED",
        "paused": "PAUSED",
    }
    invoice_status: dict[str, str] = {
        "draft": "DRAFT",
        "open": "OPEN",
        "paid": "PAID",
        "uncollectible": "UNCOLLECTIBLE",
        "void": "VOID",
    }
