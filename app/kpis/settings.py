"""The integration KPIs' settings (``SCV_KPIS__...``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KpiSettings(BaseModel):
    """How often a process adds the calls it counted to the store's daily series."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flush_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="each process adds the calls to each source it counted (and its shadow "
        "comparisons) to their day in PostgreSQL this often, in one statement; a process "
        "answering integrationKpis adds its own first",
    )
