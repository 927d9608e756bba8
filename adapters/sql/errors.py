"""Database failures into the kernel's error tree: the one place they are translated.

Messages name the kind of failure only: a driver's own message can quote the statement's
parameters (an email, a phone number) or the URL, and a message may reach a client.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from kernel.errors import UpstreamContractError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from kernel.models import Source

#: SQLSTATE of a statement cancelled by the server's statement_timeout (PostgreSQL).
QUERY_CANCELED = "57014"


def database_error(source: Source, error: BaseException) -> UpstreamError:
    """The kernel's error for ``error``, raised while ``source``'s database was read."""
    if isinstance(error, TimeoutError):
        return UpstreamTimeout(source, "the database did not answer in time")
    if isinstance(error, sa_exc.TimeoutError):
        return UpstreamTimeout(source, "no free database connection in time")
    if isinstance(error, sa_exc.DBAPIError):
        if _sqlstate(error) == QUERY_CANCELED:
            return UpstreamTimeout(source, "the statement timed out")
        if isinstance(error, sa_exc.ProgrammingError | sa_exc.DataError):
            # The schema changed under us, or a column holds what the settings do not expect.
            return UpstreamContractError(source, f"the database refused a read ({_kind(error)})")
        return UpstreamUnavailable(source, f"the database failed ({_kind(error)})")
    if isinstance(error, OSError | ConnectionError):
        return UpstreamUnavailable(source, "could not reach the database")
    return UpstreamUnavailable(source, f"the database failed ({type(error).__name__})")


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    original = error.orig
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code if isinstance(code, str) else None


def _kind(error: sa_exc.DBAPIError) -> str:
    """The driver's exception class name (``UndefinedColumnError``), never its message."""
    original = error.orig
    return type(original).__name__ if original is not None else type(error).__name__
