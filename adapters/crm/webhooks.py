"""HubSpot's webhooks: the ``X-HubSpot-Signature-v3`` check and the event batch, read for
freshness."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from pydantic import Field, TypeAdapter, ValidationError

from adapters.webhooks import LenientEvent, b64, check_time, mac
from kernel.models import Source
from kernel.webhooks import (
    KEY_FIELDS,
    KeyChange,
    MalformedEvent,
    SignatureRejected,
    VendorEvent,
    WebhookDelivery,
)


class _HubSpotEvent(LenientEvent):
    # HubSpot's own (camelCase) field names.
    eventId: int
    subscriptionType: str = Field(min_length=1, max_length=255)
    objectId: int
    occurredAt: int = Field(ge=0)
    propertyName: str | None = None
    propertyValue: str | None = None


_HUBSPOT_BATCH = TypeAdapter(list[_HubSpotEvent])


def parse_hubspot(body: bytes) -> list[VendorEvent]:
    """A HubSpot webhook: a JSON array of events; ``contact.*`` ones are about a contact."""
    try:
        events = _HUBSPOT_BATCH.validate_json(body)
    except ValidationError:
        raise MalformedEvent("not a HubSpot event array") from None
    if not events:
        raise MalformedEvent("an empty HubSpot event array")
    parsed = []
    for event in events:
        is_contact = event.subscriptionType.startswith("contact.")
        changes: tuple[KeyChange, ...] = ()
        if event.subscriptionType == "contact.propertyChange":
            for kind in KEY_FIELDS:
                if event.propertyName == kind:
                    changes = (KeyChange(kind, event.propertyValue or None),)
        parsed.append(
            VendorEvent(
                source=Source.CRM,
                event_id=str(event.eventId),
                event_type=event.subscriptionType,
                occurred_at=datetime.fromtimestamp(event.occurredAt / 1000, tz=UTC),
                record_id=str(event.objectId) if is_contact else None,
                key_changes=changes,
            )
        )
    return parsed


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
    expected = mac(secret, method.encode() + uri.encode() + body + timestamp_ms.encode())
    if not hmac.compare_digest(expected, b64(signature)):
        raise SignatureRejected("bad_signature")
    check_time(int(timestamp_ms) / 1000, now, tolerance)


def verify_delivery(
    delivery: WebhookDelivery, secret: str, *, now: float, tolerance: float
) -> None:
    """Check one delivery's ``X-HubSpot-Signature-v3`` over the URI HubSpot called."""
    verify_hubspot(
        delivery.headers.get("x-hubspot-signature-v3"),
        delivery.headers.get("x-hubspot-request-timestamp"),
        method=delivery.method,
        uri=delivery.uri,
        body=delivery.body,
        secret=secret,
        now=now,
        tolerance=tolerance,
    )
