"""The CRM's settings section (``SCV_CRM__...``): where it is, its key, its billing-id property."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SANDBOX_URL, RateLimitSettings, SignedWebhooksSettings


class CrmSettings(SignedWebhooksSettings):
    """CRM (HubSpot-shaped): the system of record for name and contact details."""

    base_url: str = f"{SANDBOX_URL}/crm"
    rate_limit: RateLimitSettings = Field(
        # HubSpot's private apps on Professional/Enterprise: 190 requests per 10 seconds.
        default_factory=lambda: RateLimitSettings(per_second=19.0, burst_seconds=10.0),
        description="calls per second to the CRM, everyone's together (HubSpot: 190 per 10 s)",
    )
    api_key: SecretStr = SecretStr("pat-sandbox-crm")
    webhook_secret: SecretStr = Field(
        default=SecretStr("scv-sandbox-hubspot-client-secret"),
        description="HubSpot app client secret, checks X-HubSpot-Signature-v3 on /webhooks/crm",
    )
    #: The contact property that holds the billing customer id, where the CRM has one.
    billing_id_property: str = "billing_customer_id"
