"""A request refused by a limit: its code, the limit and what was measured.

Every limit's refusal is a ``QueryRefused`` (a ``GatewayError``), so that ``PresentErrors``
shows its code and extensions however it was raised: by a validation rule
(``app/limits/checks.py``, ``repetition.py``) or before execution (``GuardCost``).
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from kernel.client_errors import GatewayError


class QueryRefused(GatewayError):
    """A request over one of the limits: its code, the limit and what was measured."""

    def __init__(
        self, code: str, message: str, *, limit: int, measured: int | None = None, **more: object
    ) -> None:
        super().__init__(message)
        self.code = code
        self.limit = limit
        self.measured = measured
        self.more = more

    def extensions(self) -> dict[str, object]:
        found: dict[str, object] = {"code": self.code, "limit": self.limit}
        if self.measured is not None:
            found["measured"] = self.measured
        return {**found, **self.more}


def refusal_error(refused: QueryRefused, nodes: Any = None) -> GraphQLError:
    """``refused`` as a GraphQL error (``PresentErrors`` shows its code and extensions)."""
    return GraphQLError(refused.message, nodes, original_error=refused)
