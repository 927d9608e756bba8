"""Settings of the webhook receivers (``Settings.webhooks``): signing secrets and limits.

The default secrets are the sandbox's (``sandbox/webhooks.py``), so the demo works with no
configuration; a deployment must set the real ones (Stripe's endpoint secret ``whsec_...``,
the HubSpot app's client secret, the Zendesk webhook's signing secret). The gateway logs a
warning at start-up when a default secret is in use outside demo mode.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: The sandbox's secrets, which are public: fine for the demo, never for a deployment.
SANDBOX_SECRETS = {
    "billing_secret": "whsec_scv_sandbox",
    "crm_secret": "scv-sandbox-hubspot-client-secret",
    "support_secret": "scv-sandbox-zendesk-signing-secret",
}


class WebhookSettings(BaseModel):
    """How ``/webhooks/billing``, ``/webhooks/crm`` and ``/webhooks/support`` check events."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    billing_secret: SecretStr = Field(
        default=SecretStr(SANDBOX_SECRETS["billing_secret"]),
        description="Stripe endpoint signing secret (whsec_...) for Stripe-Signature",
    )
    crm_secret: SecretStr = Field(
        default=SecretStr(SANDBOX_SECRETS["crm_secret"]),
        description="HubSpot app client secret, for X-HubSpot-Signature-v3",
    )
    support_secret: SecretStr = Field(
        default=SecretStr(SANDBOX_SECRETS["support_secret"]),
        description="Zendesk webhook signing secret, for X-Zendesk-Webhook-Signature",
    )
    tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="largest difference between a signature's timestamp and now (replay window)",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="larger webhook bodies are refused (413)"
    )
    public_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/\S*)?$",
        description="the gateway's URL as vendors call it (HubSpot signs the full URI it "
        "called, which differs behind a proxy); unset: the request's own URL",
    )

    def default_secrets_in_use(self) -> list[str]:
        """The names of the secrets still at the sandbox's public defaults."""
        return [
            name
            for name, default in SANDBOX_SECRETS.items()
            if getattr(self, name).get_secret_value() == default
        ]
