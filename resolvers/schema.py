"""The customer graph's schema, and its printed SDL (what ``schema.graphql`` holds)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.printer import print_schema
from strawberry.tools import merge_types

from resolvers.extensions.audit import RecordDisclosures
from resolvers.extensions.plain_fields import PlainFieldExecution, remember_plain_fields
from resolvers.extensions.platform import PlatformFieldsOnly
from resolvers.operations.customer import Query as CustomerQuery
from resolvers.operations.exports import ExportMutation
from resolvers.operations.identity_decisions import IdentityMutation
from resolvers.operations.interactions import InteractionMutation
from resolvers.operations.kpis import KpiQuery
from resolvers.operations.live import Subscription
from resolvers.operations.rollout import RolloutMutation, RolloutQuery
from resolvers.operations.writes import WriteMutation

logger = logging.getLogger(__name__)

#: Every root field of the graph: one class per feature, merged into one root type each.
Query = merge_types("Query", (CustomerQuery, RolloutQuery, KpiQuery))
Mutation = merge_types(
    "Mutation",
    (InteractionMutation, ExportMutation, IdentityMutation, WriteMutation, RolloutMutation),
)


class GatewaySchema(strawberry.Schema):
    """strawberry's schema, minus its error log, which would leak personal data.

    strawberry logs every error of a result at ERROR with its message and traceback, and
    those messages can quote data: graphql-core's "Variable '$phone' got invalid value ..."
    echoes the caller's input, and an unexpected exception may carry a value in its text.
    The gateway logs errors itself, without their messages: upstream failures through the
    upstream observer and the access log (codes only), defects in ``PresentErrors`` (type
    and place). Here only the count and the original errors' types are kept, at DEBUG.
    """

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: object | None = None,
    ) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "operation finished with errors",
                extra={
                    "errors": len(errors),
                    "error_types": sorted({type(e.original_error or e).__name__ for e in errors}),
                },
            )


def build_schema(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema, with whatever cross-cutting extensions the app adds (errors, caches).

    ``RecordDisclosures`` (the audit trail) is always there, and last, so that it finishes
    first: whatever it withholds is then presented by the app's error extension.
    """
    schema = GatewaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[PlatformFieldsOnly, *extensions, RecordDisclosures],
        execution_context_class=PlainFieldExecution,
    )
    remember_plain_fields(schema._schema)
    return schema


def schema_sdl() -> str:
    """The schema as SDL, ending in a newline, exactly as ``schema.graphql`` should hold it."""
    return print_schema(build_schema()) + "\n"
