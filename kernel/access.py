"""Who is asking and what they may see: the principal, verification levels, the audit sink.

These are the shared words of three features that meet in the resolvers: the IVR handoff and
interactions (which establish how well a caller was verified, and for which customer), masking
of personal fields (which reads that), and the audit trail (which records every read of
personal data and every step of an interaction). The app implements ``AuditSink`` over
PostgreSQL; resolvers and the interaction service only ever see the Protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from kernel.identity import CustomerId
from kernel.tenancy import TenantId


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the token's subject, role, OAuth scopes and the tenants it may act for
    (the tenants claim; empty when the token has none, see ``app.tenancy``)."""

    subject: str
    role: str
    scopes: frozenset[str] = frozenset()
    tenants: frozenset[TenantId] = frozenset()


class VerificationLevel(IntEnum):
    """How strongly a caller's identity was verified; ordered, so ``>=`` compares strength."""

    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3


@dataclass(frozen=True, slots=True)
class ActiveInteraction:
    """The interaction a request acts within, from a valid ``X-Interaction-Token``.

    Only present when the token was issued to the same agent as the bearer token and the
    interaction is still open: resolvers may trust it as it is.
    """

    interaction_id: str
    contact_id: str
    customer_id: CustomerId
    agent: str
    level: VerificationLevel
    #: When its token expires (epoch seconds): a subscription acting within it ends then.
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail: never the values served, only which fields and how.

    ``kind`` is ``READ`` for a response carrying customer data, or the interaction step
    (``HANDOFF``, ``CLAIM``, ``TRANSFER``, ``END``, ``VERIFY``, ``PURPOSE``, ``LINK_CHANGE``).
    ``outcome`` is ``served``, ``masked``, ``denied`` or the step's result.
    """

    kind: str
    subject: str
    role: str
    outcome: str
    customer_id: CustomerId | None = None
    interaction_id: str | None = None
    request_id: str | None = None
    fields: tuple[str, ...] = ()
    masked: bool = False
    purpose: str | None = None
    client_address: str | None = None
    detail: str | None = None
    at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: The tenant the entry is about; None: the writer's own (the default tenant's store).
    tenant: TenantId | None = None


class AuditUnavailable(Exception):
    """The audit trail could not be written: personal data must not be served."""


class AuditSink(Protocol):
    """Where audit entries go; ``record`` is durable when it returns, else it raises."""

    async def record(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` durably; raise ``AuditUnavailable`` if they could not be."""
        ...


@dataclass(frozen=True, slots=True)
class RecordedAuditEntry:
    """An audit entry as stored: its position in the trail (``id``, growing) and itself."""

    id: int
    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class AuditTrailPage:
    """Some of one customer's audit entries, newest first, and whether older ones remain."""

    entries: tuple[RecordedAuditEntry, ...]
    has_more: bool


class AuditReader(Protocol):
    """Reads the audit trail back, for supervisors (``auditTrail``); the app implements it."""

    async def read_audit_trail(
        self, customer_id: CustomerId, first: int, before_id: int | None
    ) -> AuditTrailPage:
        """Up to ``first`` entries about ``customer_id`` older than ``before_id``, newest first."""
        ...
