"""Checks of the vendors' webhook signatures: Stripe, HubSpot (v3) and Zendesk.

Each vendor signs an HMAC-SHA256 over the body and a timestamp, and each check refuses a
timestamp further than ``tolerance`` seconds from now (either way), so a captured request
cannot be replayed later. Digests are compared in constant time (``hmac.compare_digest``).
The vendors' SDKs do the same few lines, but none is a dependency here and each would add a
whole API client for one function.

A refused signature raises ``SignatureRejected`` with a reason fit for a metric label;
nothing from the request (header values, body) goes into its message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import Literal

RejectReason = Literal["missing_signature", "bad_signature", "stale_timestamp"]


class SignatureRejected(Exception):
    """The webhook is not proven to come from the vendor, now: it must change nothing."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason)
        self.reason: RejectReason = reason


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _check_time(timestamp: float, now: float, tolerance: float) -> None:
    if abs(now - timestamp) > tolerance:
        raise SignatureRejected("stale_timestamp")


def verify_stripe(
    header: str | None, body: bytes, secret: str, *, now: float, tolerance: float
) -> None:
    """Check ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`` over ``"<t>." + body``.

    Several ``v1`` entries are allowed (Stripe sends one per active secret while a secret
    is being rolled); one match is enough. Other schemes (``v0``) are ignored, as Stripe's
    own libraries ignore them.
    """
    if not header:
        raise SignatureRejected("missing_signature")
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureRejected("bad_signature")
    expected = _mac(secret, str(timestamp).encode() + b"." + body).hex()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureRejected("bad_signature")
    _check_time(timestamp, now, tolerance)


def verify_hubspot(
    signature: str | None,
    timestamp_ms: str | None,
    *,
    method: str,
    uri: str,
    body: bytes,
    secret: str,
    now: float,
    tolerance: float,
) -> None:
    """Check ``X-HubSpot-Signature-v3`` (base64 HMAC of method + URI + body + timestamp).

    ``uri`` is the full URL HubSpot called, and ``timestamp_ms`` the
    ``X-HubSpot-Request-Timestamp`` header (Unix milliseconds).
    """
    if not signature or not timestamp_ms:
        raise SignatureRejected("missing_signature")
    if not timestamp_ms.isdigit():
        raise SignatureRejected("bad_signature")
    expected = _mac(secret, method.encode() + uri.encode() + body + timestamp_ms.encode())
    if not hmac.compare_digest(expected, _b64(signature)):
        raise SignatureRejected("bad_signature")
    _check_time(int(timestamp_ms) / 1000, now, tolerance)


def verify_zendesk(
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    secret: str,
    *,
    now: float,
    tolerance: float,
) -> None:
    """Check ``X-Zendesk-Webhook-Signature`` (base64 HMAC of timestamp + body).

    ``timestamp`` is the ``X-Zendesk-Webhook-Signature-Timestamp`` header, ISO 8601.
    """
    if not signature or not timestamp:
        raise SignatureRejected("missing_signature")
    expected = _mac(secret, timestamp.encode() + body)
    if not hmac.compare_digest(expected, _b64(signature)):
        raise SignatureRejected("bad_signature")
    try:
        signed_at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise SignatureRejected("bad_signature") from None
    if signed_at.tzinfo is None:
        raise SignatureRejected("bad_signature")
    _check_time(signed_at.timestamp(), now, tolerance)


def _b64(value: str) -> bytes:
    """The bytes of a base64 signature; a value that is not base64 matches nothing."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""
