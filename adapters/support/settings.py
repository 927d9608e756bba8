"""Support's settings section (``SCV_SUPPORT__...``): where it is, its key, its status words."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SANDBOX_URL, RateLimitSettings, SignedWebhooksSettings


class SupportSettings(SignedWebhooksSettings):
    """Support (Zendesk-shaped): the system of record for tickets."""

    base_url: str = f"{SANDBOX_URL}/support"
    rate_limit: RateLimitSettings = Field(
        # Zendesk Suite Enterprise: 700 requests per minute.
        default_factory=lambda: RateLimitSettings(per_second=700 / 60, burst_seconds=10.0),
        description="calls per second to support, everyone's together (Zendesk: 700/min)",
    )
    api_key: SecretStr = SecretStr("zd-sandbox-token")
    webhook_secret: SecretStr = Field(
        default=SecretStr("scv-sandbox-zendesk-signing-secret"),
        description="Zendesk webhook signing secret, checks X-Zendesk-Webhook-Signature "
        "on /webhooks/support",
    )
    ticket_status: dict[str, str] = {
        "new": "NEW",
        "open": "OPEN",
        "pending": "WAITING_ON_CUSTOMER",
        "hold": "ON_HOLD",
        "solved": "SOLVED",
        "closed": "CLOSED",
    }
