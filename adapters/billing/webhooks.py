"""Stripe's webhooks: the ``Stripe-Signature`` check and the event body, read for freshness."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import Field, ValidationError

from adapters.webhooks import LenientEvent, check_time, mac, text
from kernel.models import Source
from kernel.webhooks import (
    KEY_FIELDS,
    KeyChange,
    MalformedEvent,
    SignatureRejected,
    VendorEvent,
    WebhookDelivery,
)


class _StripeData(LenientEvent):
    object: dict[str, Any]


class _StripeEvent(LenientEvent):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    created: int = Field(ge=0)
    data: _StripeData


def parse_stripe(body: bytes) -> list[VendorEvent]:
    """A Stripe event: customer events are about ``data.object``, others its ``customer``."""
    try:
        event = _StripeEvent.model_validate_json(body)
    except ValidationError:
        raise MalformedEvent("not a Stripe event") from None
    obj = event.data.object
    changes: tuple[KeyChange, ...] = ()
    if obj.get("object") == "customer":
        record_id = text(obj.get("id"))
        if event.type in ("customer.created", "customer.updated"):
            changes = tuple(
                KeyChange(kind, text(obj.get(kind))) for kind in KEY_FIELDS if kind in obj
            )
    else:
        customer = obj.get("customer")
        # Expanded, the customer is an object; otherwise its id.
        record_id = text(customer.get("id") if isinstance(customer, Mapping) else customer)
    return [
        VendorEvent(
            source=Source.BILLING,
            event_id=event.id,
            event_type=event.type,
            occurred_at=datetime.fromtimestamp(event.created, tz=UTC),
            record_id=record_id,
            key_changes=changes,
        )
    ]


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
    expected = mac(secret, str(timestamp).encode() + b"." + body).hex()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureRejected("bad_signature")
    check_time(timestamp, now, tolerance)


def verify_delivery(
    delivery: WebhookDelivery, secret: str, *, now: float, tolerance: float
) -> None:
    """Check one delivery's ``Stripe-Signature`` header."""
    verify_stripe(
        delivery.headers.get("stripe-signature"),
        delivery.body,
        secret,
        now=now,
        tolerance=tolerance,
    )
