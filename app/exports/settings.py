"""Settings of analysts' exports (``Settings.exports``): the worker, its batches, its leases."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ExportSettings(BaseModel):
    """How export jobs are worked, how a dead worker's job is taken over, how long they stay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True,
        description="this process works export jobs (any process may still start and serve them)",
    )
    workers: int = Field(default=1, ge=1, le=16, description="jobs one process works at once")
    batch_size: int = Field(
        default=1000, ge=10, le=10_000, description="rows read, written and recorded at a time"
    )
    poll_seconds: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="how often an idle worker looks for jobs queued by other processes",
    )
    heartbeat_seconds: float = Field(
        default=5.0, gt=0, description="how often a worker says that its job is still alive"
    )
    stale_after_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a running job whose heartbeat is older is taken over and resumed",
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="claims of one job before it is failed for good"
    )
    max_active_per_owner: int = Field(
        default=3, ge=1, description="exports one principal may have queued or running at once"
    )
    retention_hours: float = Field(
        default=168.0, gt=0, description="finished exports (and their files) are deleted after"
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> ExportSettings:
        # A worker must beat at least twice per lease, or a live job would be taken over.
        if self.heartbeat_seconds * 2 > self.stale_after_seconds:
            raise ValueError(
                "exports.heartbeat_seconds must be at most half of stale_after_seconds"
            )
        return self
