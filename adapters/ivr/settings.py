"""The IVR platform's settings section (``SCV_IVR__...``): where it is, its key."""

from __future__ import annotations

from pydantic import SecretStr

from adapters.settings import SANDBOX_URL, HttpSourceSettings


class IvrSettings(HttpSourceSettings):
    """IVR platform (Amazon Connect-shaped contact attributes): verification events."""

    base_url: str = f"{SANDBOX_URL}/ivr"
    api_key: SecretStr = SecretStr("ivr-sandbox-key")
