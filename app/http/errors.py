"""How errors leave the gateway: typed and safe, never a stack trace or an upstream URL.

- ``UpstreamError`` (a system failed): ``extensions.code``, ``source`` and ``retryable``;
  the field (a panel) is null and the rest of the answer is served.
- ``GatewayError`` (a refusal, e.g. bad input): its code and its message.
- GraphQL's own syntax and validation errors: as graphql-core wrote them, with a code.
- A value graphql-core could not coerce to its type (a variable of the wrong type, a
  required variable missing): the client's mistake, ``BAD_USER_INPUT``, not logged as a fault.
- The store down (``app.store.errors.store_outage``): ``STORE_UNAVAILABLE``, retryable,
  logged as a warning (an outage, not a defect); the fields that need no store are served.
- An upstream record that is not there (``UpstreamNotFound``): said so, not "unavailable".
- A value PostgreSQL cannot hold or compare (a NUL character, a number out of range, often
  inside an opaque cursor; ``app.store.refusals``): the client's too, ``BAD_USER_INPUT``.
- Anything else is a defect: logged with its type and place (never its message, which may
  hold personal data) and shown as ``INTERNAL_SERVER_ERROR``.

This is the one place that decides whether an error is the client's or the server's.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension
from strawberry.types import StreamExecutionResult

from app.store.errors import store_outage
from app.store.refusals import is_unstorable_value
from kernel.client_errors import GatewayError
from kernel.errors import UpstreamError, UpstreamNotFound

logger = logging.getLogger(__name__)


def present_error(error: GraphQLError) -> GraphQLError:
    """The client's view of one error."""
    original = error.original_error
    if original is None and error.extensions and "code" in error.extensions:
        # Presented already (a subscription's event, then its operation's end).
        return error
    if original is None:
        if "code" in (error.extensions or {}):
            return error  # coded where it was raised (the operation's choice, a limit)
        # Not by whether it has nodes: a custom scalar's refusal of a literal has none.
        code = (
            "GRAPHQL_PARSE_FAILED"
            if isinstance(error, GraphQLSyntaxError)
            else "GRAPHQL_VALIDATION_FAILED"
        )
        return _with(error, error.message, {"code": code})
    if isinstance(original, UpstreamError):
        source = original.source.value.lower()
        verdict = (
            "has no such record" if isinstance(original, UpstreamNotFound) else "is unavailable"
        )
        return _with(
            error,
            f"{source} {verdict} for this panel: {original.message}",
            {
                "code": original.code,
                "source": original.source.value,
                "retryable": original.retryable,
            },
        )
    if isinstance(original, GatewayError):
        return _with(error, original.message, original.extensions())
    if isinstance(original, GraphQLError) and error.path is None:
        # graphql-core's own refusal of a variable's value, before anything executed: its
        # message names the variable and the type, never more than the client sent. (With a
        # path it is a field's result the server could not serialise: a fault, below.)
        return _with(error, error.message, {"code": "BAD_USER_INPUT"})
    outage = store_outage(original)
    if outage is not None:
        logger.warning(
            "store unavailable",
            extra={"error_type": type(original).__name__, "path": error.path},
        )
        return _with(error, outage.message, {"code": outage.code, "retryable": outage.retryable})
    if is_unstorable_value(original):
        # The message of PostgreSQL's refusal may quote the value: it is not passed on.
        logger.info("a value of the request was refused by the store", extra={"path": error.path})
        return _with(
            error,
            "a value of this request cannot be stored or searched for: a NUL character, or a "
            "number out of range",
            {"code": "BAD_USER_INPUT"},
        )
    frame = traceback.extract_tb(original.__traceback__)[-1:] if original.__traceback__ else []
    where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
    logger.error(
        "unexpected error in resolver",
        extra={"error_type": type(original).__name__, "where": where, "path": error.path},
    )
    return _with(error, "Internal server error.", {"code": "INTERNAL_SERVER_ERROR"})


def _with(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    return GraphQLError(
        message=message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


class PresentErrors(SchemaExtension):
    """Rewrites every error of a result with ``present_error`` once execution ends, and of
    each result a subscription (or any operation over WebSocket) streams, as it leaves."""

    def on_operation(self) -> Iterator[None]:
        yield
        _present(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        _present(result)
        yield


def _present(result: object) -> None:
    errors = getattr(result, "errors", None)
    if result is not None and errors:
        result.errors = [present_error(e) for e in errors]  # type: ignore[attr-defined]
