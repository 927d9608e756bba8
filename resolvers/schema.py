"""The customer graph's schema, and its printed SDL (what ``schema.graphql`` holds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.printer import print_schema
from strawberry.tools import merge_types

from resolvers.audit import RecordDisclosures
from resolvers.interactions import InteractionMutation
from resolvers.query import Query

#: Every mutation of the graph: one class per feature, merged into one root type.
Mutation = merge_types("Mutation", (InteractionMutation,))


def build_schema(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema, with whatever cross-cutting extensions the app adds (errors, caches).

    ``RecordDisclosures`` (the audit trail) is always there, and last, so that it finishes
    first: whatever it withholds is then presented by the app's error extension.
    """
    return strawberry.Schema(
        query=Query, mutation=Mutation, extensions=[*extensions, RecordDisclosures]
    )


def schema_sdl() -> str:
    """The schema as SDL, ending in a newline, exactly as ``schema.graphql`` should hold it."""
    return print_schema(build_schema()) + "\n"
