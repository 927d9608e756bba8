"""The rollout's instance-wide settings (``SCV_ROLLOUT__...``); each source's own mode and
cohort are in its section (``SCV_<NAME>__ROLLOUT__...``, ``adapters.settings``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class InstanceRolloutSettings(BaseModel):
    """How often an instance reads supervisors' changes, and how much shadow work it takes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    refresh_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="an instance re-reads the modes supervisors set at most this often "
        "(0: on every request); a change made on this instance is seen at once",
    )
    max_shadow_reads: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="shadow comparisons under way at once per process; more are skipped "
        "(counted as skipped), so that shadow reads never crowd out served ones",
    )
    check_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="how often each process checks every source's rollback criteria",
    )
