"""Support's settings section (``SCV_SUPPORT__...``): where it is, its key, its status words."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SANDBOX_URL, SignedWebhooksSettings


class SupportSettings(SignedWebhooksSettings):
    """Support (Zendesk-shaped): the system of record for tickets."""

    base_url: str = f"{SANDBOX_URL}/support"
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
