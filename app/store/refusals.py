"""Which of PostgreSQL's refusals are the request's fault: a value it cannot hold or compare.

A text with a NUL character (SQLSTATE 22021), a number beyond its column's range (22003, or
asyncpg's own refusal to encode an integer past 64 bits) are values a client sent, in an
argument, a variable or an opaque cursor: ``app.http.errors`` presents them as
``BAD_USER_INPUT``, not as the server's fault. Decided here, beside the only code that speaks
to PostgreSQL, so that no resolver needs to know which values the database refuses.
"""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base

#: PostgreSQL's class 22, "data exception": the value, not the statement, is wrong.
_DATA_EXCEPTION = asyncpg.exceptions.DataError
#: asyncpg's refusal to encode a parameter (an integer past int64), before anything is sent.
_UNENCODABLE = asyncpg_base.DataError


def is_unstorable_value(error: BaseException) -> bool:
    """Whether ``error`` is PostgreSQL (or asyncpg) refusing a value, not a statement."""
    return isinstance(error, _DATA_EXCEPTION | _UNENCODABLE)
