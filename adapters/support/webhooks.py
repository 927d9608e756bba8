"""Zendesk's webhooks: the ``X-Zendesk-Webhook-Signature`` check and the event, read for
freshness."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, Field, ValidationError

from adapters.webhooks import LenientEvent, b64, check_time, mac, text
from kernel.models import Source
from kernel.webhooks import MalformedEvent, SignatureRejected, VendorEvent, WebhookDelivery


class _ZendeskEvent(LenientEvent):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    time: AwareDatetime
    detail: dict[str, Any]


def parse_zendesk(body: bytes) -> list[VendorEvent]:
    """A Zendesk event: ticket events are about the requester, user events the user."""
    try:
        event = _ZendeskEvent.model_validate_json(body)
    except ValidationError:
        raise MalformedEvent("not a Zendesk event") from None
    kind = event.type.removeprefix("zen:event-type:")
    if kind.startswith("ticket."):
        record_id = text(event.detail.get("requester_id"))
    elif kind.startswith("user."):
        record_id = text(event.detail.get("id"))
    else:
        record_id = None
    return [
        VendorEvent(
            source=Source.SUPPORT,
            event_id=event.id,
            event_type=event.type,
            occurred_at=event.time,
            record_id=record_id,
        )
    ]


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
    expected = mac(secret, timestamp.encode() + body)
    if not hmac.compare_digest(expected, b64(signature)):
        raise SignatureRejected("bad_signature")
    try:
        signed_at = datetime.fromisoformat(timestamp)
    except ValueError:
        raise SignatureRejected("bad_signature") from None
    if signed_at.tzinfo is None:
        raise SignatureRejected("bad_signature")
    check_time(signed_at.timestamp(), now, tolerance)


def verify_delivery(
    delivery: WebhookDelivery, secret: str, *, now: float, tolerance: float
) -> None:
    """Check one delivery's ``X-Zendesk-Webhook-Signature`` header."""
    verify_zendesk(
        delivery.headers.get("x-zendesk-webhook-signature"),
        delivery.headers.get("x-zendesk-webhook-signature-timestamp"),
        delivery.body,
        secret,
        now=now,
        tolerance=tolerance,
    )
