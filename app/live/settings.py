"""Settings of live changes (``SCV_LIVE__...``): the engine that carries them between
gateway instances, and the limits of each subscriber."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

Backend = Literal["postgres", "redis"]


class LiveSettings(BaseModel):
    """How changes reach subscriptions (``docs/live.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True, description="serve GraphQL subscriptions and publish changes to them"
    )
    backend: Backend | None = Field(
        default=None,
        description="what carries changes between gateway instances: postgres (LISTEN/NOTIFY "
        "on the gateway's own database) or redis (pub/sub on SCV_LIVE__REDIS_URL); unset: "
        "redis when SCV_LIVE__REDIS_URL is set, else postgres",
    )
    redis_url: SecretStr | None = Field(
        default=None, description="the Redis whose pub/sub carries changes (backend redis)"
    )
    channel: str = Field(
        default="scv_live",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="the NOTIFY channel or Redis pub/sub channel of this deployment's changes",
    )
    queue_size: int = Field(
        default=64,
        ge=1,
        le=10_000,
        description="events held for one subscription that has not taken them yet; past "
        "this, they are dropped and the subscriber told to re-query",
    )
    max_subscriptions_per_principal: int = Field(
        default=20,
        ge=1,
        le=10_000,
        description="open subscriptions one principal (token subject) may hold in one "
        "gateway process; more are refused with TOO_MANY_SUBSCRIPTIONS",
    )
    connection_init_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a WebSocket that sends no connection_init (with its token) within "
        "this is closed (4408)",
    )
    max_subscriptions_per_connection: int = Field(
        default=20, ge=1, le=1000, description="operations one WebSocket connection may run at once"
    )

    def chosen_backend(self) -> Backend:
        """The backend in use: as set, else redis when a Redis URL is given."""
        if self.backend is not None:
            return self.backend
        return "redis" if self.redis_url is not None else "postgres"
