"""The IVR platform's settings section (``SCV_IVR__...``): where it is, its key."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SANDBOX_URL, HttpSourceSettings, RateLimitSettings


class IvrSettings(HttpSourceSettings):
    """IVR platform (Amazon Connect-shaped contact attributes): verification events."""

    base_url: str = f"{SANDBOX_URL}/ivr"
    rate_limit: RateLimitSettings = Field(
        # Amazon Connect's default API quota: 2 requests per second, bursts of 5.
        default_factory=lambda: RateLimitSettings(per_second=2.0, burst_seconds=2.5),
        description="calls per second to the IVR, everyone's together (Amazon Connect: 2/s)",
    )
    api_key: SecretStr = SecretStr("ivr-sandbox-key")
