"""Settings of fair share within one gateway instance (``SCV_FAIR_SHARE__*``).

Each source's own sharing settings (its analysts' lane, its call rate) are in its section
(``SCV_<SOURCE>__FAIR_SHARE__*``, ``SCV_<SOURCE>__RATE_LIMIT__*``, ``adapters/settings.py``);
these say how the instance's processes share what they measure and spend.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class InstanceSharingSettings(BaseModel):
    """Where agents' processes publish their latency, and how many processes share a rate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dir: Path | None = Field(
        default=None,
        description="where this instance's agents' processes publish their latency to each "
        "source for its analysts' processes; `scv serve` sets it when SCV_ANALYST_PORT is set",
    )
    processes: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="the instance's processes, which share each source's rate_limit evenly; "
        "unset: SCV_WORKERS, plus SCV_ANALYST_WORKERS when SCV_ANALYST_PORT is set",
    )
