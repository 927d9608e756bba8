"""Writes back to the systems of record: their kinds, outcomes, refusals and the service port.

A mutation of the graph is one ``WriteRequest`` of a ``WriteKind``; the app's write service
(``app/writes/``) checks who asks, the input and the idempotency key, and delivers it to the
system of record of its fact, at once or later from its outbox. Which source a kind goes to
and how it is written there is the source's own (``adapters/<source>/writes.py``, through
the registry); resolvers only see ``WriteService``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from kernel.access import ActiveInteraction, Principal
from kernel.client_errors import GatewayError
from kernel.identity import CustomerId
from kernel.models import Source


class WriteStatus(StrEnum):
    """Where a write is: done in its system, waiting in the outbox, or given up on."""

    APPLIED = "APPLIED"
    PENDING = "PENDING"
    FAILED = "FAILED"


class WriteKind(StrEnum):
    """What a write changes; each is one mutation of the graph and one fact's system."""

    CUSTOMER_NOTE = "addCustomerNote"
    CONTACT_DETAILS = "updateContactDetails"
    TICKET = "createTicket"
    TICKET_COMMENT = "commentOnTicket"
    SUBSCRIPTION_CANCEL = "cancelSubscriptionAtPeriodEnd"


#: A write's input as stored in the outbox and handed to its source: JSON values only.
WriteValues = Mapping[str, str | bool | None]


@dataclass(frozen=True, slots=True)
class WriteTarget:
    """Where a write goes: the customer it is about and the record of the source it names.

    ``record_id`` is the source's own id of what is written to or under (the CRM contact
    of a note, the ticket of a comment, the subscription to cancel).
    """

    customer_id: CustomerId
    source: Source
    record_id: str


@dataclass(frozen=True, slots=True)
class WriteCommand:
    """A write as its source's handler takes it (from the request, or from the outbox).

    ``vendor_key`` is the idempotency key forwarded to a vendor that takes one: derived
    from the client's key and principal, so it is the same on every retry and another
    principal's same key never collides with it.
    """

    kind: WriteKind
    record_id: str
    values: WriteValues
    vendor_key: str
    expected_version: str | None = None


@dataclass(frozen=True, slots=True)
class WriteApplied:
    """What the system of record answered: the id of the record written (a new note's or
    ticket's, the contact's or subscription's own)."""

    record_id: str


@dataclass(frozen=True, slots=True)
class SourceWrite:
    """One kind of write a source is the system of record for, as the source does it.

    ``apply`` takes the source's adapter (its port, uncached) and the command; it raises
    the upstream error tree, or ``RecordChanged``. ``owns``, for a write naming a record
    of the source (a ticket, a subscription), says whether that record is the customer's:
    it takes the adapter, the customer's record in the source (its link) and the record
    named. Without ``owns`` the write's record is the customer's link itself.
    """

    kind: WriteKind
    apply: Callable[[Any, WriteCommand], Awaitable[WriteApplied]]
    owns: Callable[[Any, str, str], Awaitable[bool]] | None = None
    #: Raises ``RecordChanged`` if the record is no longer at the command's expected
    #: version (``apply`` checks too); for a stale form to be refused before it is kept.
    check: Callable[[Any, WriteCommand], Awaitable[None]] | None = None


class RecordChanged(Exception):
    """The record changed since the version the agent saw: nothing was written.

    ``current`` holds the record's current values of the fields the write would change,
    and ``version`` its current version (for the agent to decide and send again).
    """

    def __init__(self, current: Mapping[str, str | None], version: str) -> None:
        super().__init__("the record changed since it was read")
        self.current = dict(current)
        self.version = version


class WriteConflict(GatewayError):
    """``CONFLICT``: the record changed since the agent read it; nothing was written."""

    code = "CONFLICT"

    def __init__(self, changed: RecordChanged) -> None:
        super().__init__("the record changed since it was read; nothing was written")
        self.current = changed.current
        self.version = changed.version

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "current": self.current, "currentVersion": self.version}


class IdempotencyKeyReused(GatewayError):
    """The idempotency key was first used with other input: nothing was written."""

    code = "IDEMPOTENCY_KEY_REUSED"


class WriteFieldInvalid(GatewayError):
    """``BAD_USER_INPUT`` naming the argument at fault (``extensions.field``)."""

    code = "BAD_USER_INPUT"

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "field": self.field}


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """A write as the client follows it (``WriteResult``)."""

    id: str
    kind: WriteKind
    status: WriteStatus
    source: Source
    target_record_id: str
    #: The record written, once APPLIED.
    record_id: str | None = None
    #: Why it FAILED, or why it is still PENDING (the last error's code), never a value.
    reason: str | None = None
    attempts: int = 0
    created_at: datetime | None = None
    applied_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WriteActor:
    """Who writes: the principal, the interaction it acts within, and where the request
    came from (for the audit)."""

    principal: Principal
    interaction: ActiveInteraction | None = None
    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """One mutation's arguments: ``customer_id`` for the writes about a customer,
    ``record_id`` for those that name a record (ticket, subscription)."""

    kind: WriteKind
    idempotency_key: str
    values: WriteValues = field(default_factory=dict)
    customer_id: CustomerId | None = None
    record_id: str | None = None
    expected_version: str | None = None


class WriteService(Protocol):
    """Accepts writes and reports on them; the app implements it (``app/writes/service.py``)."""

    async def submit(self, actor: WriteActor, request: WriteRequest) -> WriteOutcome:
        """Check and deliver one write: APPLIED, PENDING (kept in the outbox) or FAILED.

        Raises ``Forbidden`` / ``VerificationRequired`` for who asks, ``WriteFieldInvalid``
        for the input, ``IdempotencyKeyReused`` and ``WriteConflict``; nothing is written
        then. The same key with the same input answers the first write's outcome.
        """
        ...

    async def status(self, actor: WriteActor, write_id: str) -> WriteOutcome | None:
        """The write, if it exists and is the actor's (supervisors: anyone's)."""
        ...
