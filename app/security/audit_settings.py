"""Settings of the PII audit trail (``Settings.audit``): how long a write may take, retention."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuditSettings(BaseModel):
    """How the audit trail is written and how long it is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    write_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        description="longest wait for a request's audit batch; past it personal fields are "
        "withheld (AUDIT_UNAVAILABLE)",
    )
    retention_days: int = Field(
        default=400,
        ge=1,
        description="`scv audit-prune` deletes entries older than this many days",
    )
