"""What a source reached as a database has in its section: where it is, its pool, its timeouts."""

from __future__ import annotations

from pydantic import Field, SecretStr

from adapters.settings import SourceSettings


class DatabaseSourceSettings(SourceSettings):
    """A source read from a database through SQLAlchemy (any dialect with an async driver)."""

    url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy URL with an async driver (postgresql+asyncpg://..., "
        "sqlite+aiosqlite:///...); a secret, it may hold a password. Unset: the source is not "
        "configured, its panel is null with an error and the sync reads nothing of it",
    )
    db_schema: str | None = Field(
        default=None, description="the schema the tables or views are in (unset: the default)"
    )
    pool_size: int = Field(default=5, ge=1, le=100, description="connections kept open")
    max_overflow: int = Field(
        default=0, ge=0, le=100, description="connections opened beyond pool_size under load"
    )
    pool_timeout_seconds: float = Field(
        default=0.5, gt=0, description="longest wait for a free connection of the pool"
    )
    connect_timeout: float = Field(default=1.0, gt=0, description="seconds to open a connection")
    statement_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="longest one statement may run (the server's statement_timeout where the "
        "dialect has one, and always the gateway's own wait); the request's deadline caps it",
    )
    page_size: int = Field(
        default=500, ge=1, le=10_000, description="rows per page when the sync lists records"
    )

    def is_configured(self) -> bool:
        """Whether a database is named (``url``)."""
        return self.url is not None
