"""A database source's ``AsyncEngine``: its pool limits and timeouts from its section.

The statement timeout is asked of the server where the dialect has one (PostgreSQL's
``statement_timeout``, set per connection), so that a slow query stops using the server's
resources too; ``adapters.sql.calls`` also bounds every wait on the gateway's side.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.sql.settings import DatabaseSourceSettings


def build_engine(settings: DatabaseSourceSettings) -> AsyncEngine:
    """An engine for ``settings.url`` (which must be set); no connection is opened yet."""
    if settings.url is None:
        raise ValueError("the source has no database URL")
    url = make_url(settings.url.get_secret_value())
    connect_args: dict[str, Any] = {}
    backend = url.get_backend_name()
    if backend == "postgresql" and url.get_driver_name() == "asyncpg":
        connect_args = {
            "timeout": settings.connect_timeout,
            "command_timeout": settings.statement_timeout_seconds,
            "server_settings": {
                "statement_timeout": str(round(settings.statement_timeout_seconds * 1000)),
                # A legacy database is only read: a transaction the gateway left open by
                # mistake must not hold locks the legacy system's writers wait on.
                "default_transaction_read_only": "on",
                "application_name": "scv-gateway",
            },
        }
    elif backend == "sqlite":
        connect_args = {"timeout": settings.connect_timeout}
    return create_async_engine(
        url,
        # Every read is one statement: in autocommit, no BEGIN before it and no ROLLBACK when
        # its connection goes back to the pool (two round trips of three, and their CPU).
        isolation_level="AUTOCOMMIT",
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
        # A connection the database dropped while idle is replaced, not handed to a query.
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=connect_args,
    )
