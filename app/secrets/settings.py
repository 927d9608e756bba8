"""Settings of secrets' reload (``SCV_SECRETS__...``); the directory itself is
``SCV_SECRETS_DIR`` (``app.settings``), read with the rest of the settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SecretsSettings(BaseModel):
    """How often the secret files are checked for a new value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reload_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="check SCV_SECRETS_DIR's files for a changed secret this often (0: never; "
        "a changed value is used from the next call)",
    )
