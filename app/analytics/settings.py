"""Settings of the analysts' many-customer reads (``Settings.customers``).

The ``customers`` connection, its nested panels, and the ``customer_facts`` read model that
answers its filters.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CustomersSettings(BaseModel):
    """How pages of customers read their panels, and how the read model is refreshed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    panel_concurrency: int = Field(
        default=10,
        ge=1,
        le=100,
        description="most calls one request makes at once to a system without a batch read "
        "(billing: one call per customer), so a page of 100 customers does not open 100",
    )
    call_lookback_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="how far back the facts refresh reads IVR contacts for each customer's "
        "last call (lastContactAt)",
    )
