"""The vendors' webhook bodies, read into ``VendorEvent``s: which record, when, which keys.

Only what freshness needs is read: the event id (for dedupe), the event's own time (for
ordering and the lag metric), the record of that source whose cached entries go stale, and
any email or phone the event sets. Event types that concern no customer (a HubSpot company,
a Stripe product) are acknowledged and change nothing. Vendors add fields over time, so
unknown fields are ignored; a body without what is read here is malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from app.store.customers import KeyKind
from kernel.models import Source

#: The identity fields whose change moves a lookup key.
KEY_FIELDS: tuple[KeyKind, ...] = ("email", "phone")


class MalformedEvent(Exception):
    """The body is not the vendor's webhook shape (the message names no value from it)."""


@dataclass(frozen=True, slots=True)
class KeyChange:
    """An email or phone that an event sets on its record, as the vendor wrote it."""

    kind: KeyKind
    #: None or empty: the record no longer has one.
    value: str | None


@dataclass(frozen=True, slots=True)
class VendorEvent:
    """One vendor event, as far as freshness cares."""

    source: Source
    event_id: str
    event_type: str
    occurred_at: datetime
    #: The record of ``source`` the event is about (billing customer, CRM contact, support
    #: user); None when it concerns no customer.
    record_id: str | None
    key_changes: tuple[KeyChange, ...] = ()


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _StripeData(_Lenient):
    object: dict[str, Any]


class _StripeEvent(_Lenient):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    created: int = Field(ge=0)
    data: _StripeData


class _HubSpotEvent(_Lenient):
    # HubSpot's own (camelCase) field names.
    eventId: int
    subscriptionType: str = Field(min_length=1, max_length=255)
    objectId: int
    occurredAt: int = Field(ge=0)
    propertyName: str | None = None
    propertyValue: str | None = None


class _ZendeskEvent(_Lenient):
    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=255)
    time: AwareDatetime
    detail: dict[str, Any]


_HUBSPOT_BATCH = TypeAdapter(list[_HubSpotEvent])


def parse_stripe(body: bytes) -> list[VendorEvent]:
    """A Stripe event: customer events are about ``data.object``, others its ``customer``."""
    try:
        event = _StripeEvent.model_validate_json(body)
    except ValidationError:
        raise MalformedEvent("not a Stripe event") from None
    obj = event.data.object
    changes: tuple[KeyChange, ...] = ()
    if obj.get("object") == "customer":
        record_id = _text(obj.get("id"))
        if event.type in ("customer.created", "customer.updated"):
            changes = tuple(
                KeyChange(kind, _text(obj.get(kind))) for kind in KEY_FIELDS if kind in obj
            )
    else:
        customer = obj.get("customer")
        # Expanded, the customer is an object; otherwise its id.
        record_id = _text(customer.get("id") if isinstance(customer, Mapping) else customer)
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


def parse_zendesk(body: bytes) -> list[VendorEvent]:
    """A Zendesk event: ticket events are about the requester, user events the user."""
    try:
        event = _ZendeskEvent.model_validate_json(body)
    except ValidationError:
        raise MalformedEvent("not a Zendesk event") from None
    kind = event.type.removeprefix("zen:event-type:")
    if kind.startswith("ticket."):
        record_id = _text(event.detail.get("requester_id"))
    elif kind.startswith("user."):
        record_id = _text(event.detail.get("id"))
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


def _text(value: object) -> str | None:
    """An id or value as text (Zendesk and HubSpot ids may come as numbers); None if absent."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value) or None
    return None
