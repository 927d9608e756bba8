"""What the sources' webhook readers share: lenient vendor models and HMAC signature checks.

Each vendor signs an HMAC-SHA256 over the body and a timestamp, and each check refuses a
timestamp further than ``tolerance`` seconds from now (either way), so a captured request
cannot be replayed later. Digests are compared in constant time (``hmac.compare_digest``).
The vendors' SDKs do the same few lines, but none is a dependency here and each would add a
whole API client for one function. A refused signature raises
``kernel.webhooks.SignatureRejected`` with a reason fit for a metric label; nothing from the
request (header values, body) goes into its message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from pydantic import BaseModel, ConfigDict

from kernel.webhooks import SignatureRejected


class LenientEvent(BaseModel):
    """A vendor's event shape: vendors add fields over time, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def text(value: object) -> str | None:
    """An id or value as text (Zendesk and HubSpot ids may come as numbers); None if absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value) or None
    return None


def mac(secret: str, message: bytes) -> bytes:
    """HMAC-SHA256 of ``message`` under ``secret``."""
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def check_time(timestamp: float, now: float, tolerance: float) -> None:
    """Refuse a signature whose time is more than ``tolerance`` seconds from ``now``."""
    if abs(now - timestamp) > tolerance:
        raise SignatureRejected("stale_timestamp")


def b64(value: str) -> bytes:
    """The bytes of a base64 signature; a value that is not base64 matches nothing."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
