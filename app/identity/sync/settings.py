"""Settings of ``scv sync`` (``Settings.sync``): incremental reads and the progress line."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SyncSettings(BaseModel):
    """How the identity sync reads the sources incrementally and reports its progress."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overlap_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="an incremental read starts this long before the previous run started, "
        "so that changes made while it read, or stamped by a clock running behind, are read "
        "again rather than missed (reading a record twice is harmless)",
    )
    batch_records: int = Field(
        default=500,
        ge=1,
        le=5_000,
        description="upstream pages (100 records at most) are stored together until they hold "
        "this many records: fewer round trips to PostgreSQL, memory bounded by the batch",
    )
    progress_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="when scv sync's output is not a terminal, a progress line this often "
        "(on a terminal the line is rewritten in place after every page)",
    )
