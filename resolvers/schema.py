"""The customer graph's schema, and its printed SDL (what ``schema.graphql`` holds)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.printer import print_schema

from resolvers.query import Query


def build_schema(
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema, with whatever cross-cutting extensions the app adds (errors, caches)."""
    return strawberry.Schema(query=Query, extensions=list(extensions))


def schema_sdl() -> str:
    """The schema as SDL, ending in a newline, exactly as ``schema.graphql`` should hold it."""
    return print_schema(build_schema()) + "\n"
