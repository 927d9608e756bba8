"""What a vendor's webhook says, as the gateway reads it: events, key changes, refusals.

Each source that sends webhooks reads its vendor's body into ``VendorEvent``s and checks its
vendor's signature (``adapters/<source>/webhooks.py``); the receiver (``app.webhooks``)
applies the events without knowing any vendor. Only what freshness needs is read: the event
id (for dedupe), the event's own time (for ordering and the lag metric), the record of that
source whose cached entries go stale, and any email or phone the event sets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kernel.identity_evidence import KeyKind
from kernel.models import Source

#: The identity fields whose change moves a lookup key.
KEY_FIELDS: tuple[KeyKind, ...] = ("email", "phone")

RejectReason = Literal["missing_signature", "bad_signature", "stale_timestamp"]


class MalformedEvent(Exception):
    """The body is not the vendor's webhook shape (the message names no value from it)."""


class SignatureRejected(Exception):
    """The webhook is not proven to come from the vendor, now: it must change nothing."""

    def __init__(self, reason: RejectReason) -> None:
        super().__init__(reason)
        self.reason: RejectReason = reason


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


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery as its signature check needs it: nothing of HTTP but these values."""

    method: str
    #: The URI the vendor called, as it signed it (the public URL behind a proxy).
    uri: str
    #: Header names in lower case.
    headers: Mapping[str, str]
    body: bytes
