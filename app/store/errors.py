"""Which failures of PostgreSQL mean "the store is unavailable", as opposed to a defect.

The one place that knows asyncpg's exceptions: ``store_outage`` turns a connection that
could not be made or was lost (the server down, restarting, out of connections, the pool
closed) into the kernel's ``StoreUnavailable``, raised ``from`` it by whoever presents it.
A query the server refused for its content (a constraint, a syntax error) is not an outage:
it stays what it is, a defect to be fixed.
"""

from __future__ import annotations

import asyncpg

from kernel.errors import StoreUnavailable

#: asyncpg's own words for "the server is gone or will not take us".
_OUTAGES: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def store_outage(error: BaseException) -> StoreUnavailable | None:
    """``StoreUnavailable`` when ``error`` says the store cannot be reached, else None."""
    if isinstance(error, StoreUnavailable):
        return error
    if isinstance(error, _OUTAGES):
        return StoreUnavailable()
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        # The pool or the connection was closed under the request (a shutdown, a lost server).
        return StoreUnavailable()
    if isinstance(error, OSError | TimeoutError) and _raised_in_asyncpg(error):
        # Connection refused, host unreachable, connect timeout: while opening a connection.
        return StoreUnavailable()
    return None


def _raised_in_asyncpg(error: BaseException) -> bool:
    traceback = error.__traceback__
    while traceback is not None:
        if traceback.tb_frame.f_globals.get("__name__", "").startswith("asyncpg"):
            return True
        traceback = traceback.tb_next
    return False
