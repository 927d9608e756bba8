"""Settings sections of the sources, one per system of record.

``app.settings.Settings`` composes these (``SCV_BILLING__BASE_URL`` and so on); an
adapter is handed only its own section. The defaults point at the sandbox served by
``scv sandbox`` so that the demo runs with no configuration; production sets every
base URL and key.

Taxonomy maps (vendor word -> canonical word) live here as configuration: a vendor that
adds a status word needs a settings change, not a code change.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

SANDBOX_URL = "http://127.0.0.1:8100"


class SourceSettings(BaseModel):
    """What every source needs: where it is, how to authenticate, how long to wait."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    api_key: SecretStr
    connect_timeout: float = Field(default=1.0, gt=0, description="seconds to open a connection")
    read_timeout: float = Field(default=2.0, gt=0, description="seconds to wait for an answer")
    page_size: int = Field(default=100, ge=1, le=100, description="records per page when listing")


class BillingSettings(SourceSettings):
    """Billing (Stripe-shaped): the system of record for money."""

    base_url: str = f"{SANDBOX_URL}/billing"
    api_key: SecretStr = SecretStr("sk_test_scv_sandbox")
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


class CrmSettings(SourceSettings):
    """CRM (HubSpot-shaped): the system of record for name and contact details."""

    base_url: str = f"{SANDBOX_URL}/crm"
    api_key: SecretStr = SecretStr("pat-sandbox-crm")
    #: The contact property that holds the billing customer id, where the CRM has one.
    billing_id_property: str = "billing_customer_id"


class SupportSettings(SourceSettings):
    """Support (Zendesk-shaped): the system of record for tickets."""

    base_url: str = f"{SANDBOX_URL}/support"
    api_key: SecretStr = SecretStr("zd-sandbox-token")
    ticket_status: dict[str, str] = {
        "new": "NEW",
        "open": "OPEN",
        "pending": "WAITING_ON_CUSTOMER",
        "hold": "ON_HOLD",
        "solved": "SOLVED",
        "closed": "CLOSED",
    }


class IvrSettings(SourceSettings):
    """IVR platform (Amazon Connect-shaped contact attributes): verification events."""

    base_url: str = f"{SANDBOX_URL}/ivr"
    api_key: SecretStr = SecretStr("ivr-sandbox-key")
