"""Settings of writes (``Settings.writes``, ``SCV_WRITES__...``): who may write what, the
inputs' limits, and how the outbox retries."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kernel.access import VerificationLevel
from kernel.writes import WriteKind

Level = Literal["NONE", "LOW", "MEDIUM", "HIGH"]


class WritesSettings(BaseModel):
    """Per-mutation verification levels, supervisors' writes, input limits, the outbox."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    note_level: Level = Field(
        default="LOW", description="verification the caller needs for addCustomerNote"
    )
    contact_details_level: Level = Field(
        default="HIGH", description="verification the caller needs for updateContactDetails"
    )
    ticket_level: Level = Field(
        default="MEDIUM", description="verification the caller needs for createTicket"
    )
    comment_level: Level = Field(
        default="LOW", description="verification the caller needs for commentOnTicket"
    )
    cancellation_level: Level = Field(
        default="HIGH",
        description="verification the caller needs for cancelSubscriptionAtPeriodEnd",
    )
    supervisor_writes: frozenset[WriteKind] = Field(
        default=frozenset({WriteKind.CUSTOMER_NOTE, WriteKind.TICKET}),
        description="mutations a supervisor may make for a customer without holding the "
        "call (mutation names, a JSON list); within a claimed call a supervisor is an agent",
    )
    max_body_chars: int = Field(
        default=65_536,
        ge=1,
        le=65_536,
        description="longest note, ticket body or comment (HubSpot's and Zendesk's limit)",
    )
    max_subject_chars: int = Field(default=150, ge=1, description="longest ticket subject")
    max_field_chars: int = Field(
        default=255, ge=1, description="longest address line, city, region or postal code"
    )
    max_key_chars: int = Field(default=255, ge=8, description="longest idempotency key")
    worker_enabled: bool = Field(
        default=True,
        description="this process delivers the outbox (any process may accept writes)",
    )
    batch_size: int = Field(
        default=20, ge=1, le=500, description="outbox rows one worker claims and sends at once"
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often an idle worker looks for due writes"
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="a claimed write not finished within this is claimed again (by any "
        "process): longer than any one delivery takes",
    )
    max_attempts: int = Field(
        default=12, ge=1, le=100, description="tries of one write before it is FAILED"
    )
    backoff_base_seconds: float = Field(
        default=1.0, gt=0, description="wait after the first failed try; doubled after each"
    )
    backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="longest wait between two tries"
    )

    @model_validator(mode="after")
    def _backoff_in_order(self) -> WritesSettings:
        if self.backoff_base_seconds > self.backoff_max_seconds:
            raise ValueError("writes.backoff_base_seconds must be at most backoff_max_seconds")
        return self

    def level_for(self, kind: WriteKind) -> VerificationLevel:
        """The verification a caller needs for ``kind``."""
        names = {
            WriteKind.CUSTOMER_NOTE: self.note_level,
            WriteKind.CONTACT_DETAILS: self.contact_details_level,
            WriteKind.TICKET: self.ticket_level,
            WriteKind.TICKET_COMMENT: self.comment_level,
            WriteKind.SUBSCRIPTION_CANCEL: self.cancellation_level,
        }
        return VerificationLevel[names[kind]]

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """The wait after ``attempts`` failed tries: doubling from the base up to the cap,
        and never shorter than a vendor's Retry-After.

        Written out rather than taken from tenacity: the schedule is kept in PostgreSQL
        (``next_attempt_at``) across processes and restarts, not in a loop of one process.
        """
        doubled: float = self.backoff_base_seconds * 2.0 ** max(0, attempts - 1)
        return max(min(self.backoff_max_seconds, doubled), retry_after or 0.0)
