"""The whole-response cache's settings section (``SCV_WHOLE_RESPONSE__...``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WholeResponseSettings(BaseModel):
    """Which roles' answers are kept, how many, and for how long at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(default=True, description="off: every query is executed")
    roles: frozenset[str] = Field(
        default=frozenset({"agent"}),
        description="roles whose answers are kept and served again (JSON list)",
    )
    max_entries: int = Field(
        default=2000, ge=1, description="answers kept per process (least recently used goes)"
    )
    max_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "longest an answer is kept; shorter when a panel read behind it stops being "
            "fresh sooner"
        ),
    )
