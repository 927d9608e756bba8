"""Settings of the webhook receivers (``Settings.webhooks``): the replay window and limits.

Each source's signing secret is its own setting (``SCV_<NAME>__WEBHOOK_SECRET``, in its
section beside its adapter). The defaults are the sandbox's (``sandbox/webhooks.py``), so the
demo works with no configuration; a deployment must set the real ones (Stripe's endpoint
secret ``whsec_...``, the HubSpot app's client secret, the Zendesk webhook's signing secret).
The gateway logs a warning at start-up when a default secret is in use outside demo mode.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class WebhookSettings(BaseModel):
    """How ``POST /webhooks/<source>`` checks and reads deliveries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

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

    @model_validator(mode="before")
    @classmethod
    def _secrets_moved_to_their_sources(cls, data: Any) -> Any:
        # SCV_WEBHOOKS__<NAME>_SECRET was the name until each source kept its own secret: say
        # where it went rather than only "extra inputs are not permitted".
        if isinstance(data, dict):
            moved = sorted(name for name in data if str(name).endswith("_secret"))
            if moved:
                renamed = ", ".join(
                    f"SCV_WEBHOOKS__{name.upper()} is now "
                    f"SCV_{name.removesuffix('_secret').upper()}__WEBHOOK_SECRET"
                    for name in moved
                )
                raise ValueError(f"renamed setting(s): {renamed}")
        return data
