"""Plain fields executed without a resolver call: an attribute read, then the value completed.

Most of the customer graph's fields are plain: a dataclass attribute with no resolver, no
arguments, no field extension (no mask, no audit) and no permission. graphql-core still
executes each one as if it could be anything: it builds a ``GraphQLResolveInfo``, runs
strawberry's resolver wrapper (which builds strawberry's ``Info``, converts arguments that are
not there, and calls ``getattr``), then completes the value through the generic path. On the
agent desktop's whole view that is most of the ~80 fields, and measured with cProfile it was
about a third of the gateway's CPU for a warm (cached) view.

``PlainFieldExecution`` is graphql-core's execution context with one shortcut: a field the
schema marks plain (``plain_fields``) whose type is a scalar, an enum or an object without an
``is_type_of`` check (each optionally non-null) is read with ``getattr`` and completed the way
``execute_field`` completes it: the same coercion of leaves, the same sub-selection of objects,
the same error for a null in a non-null field, the same error handling. Everything else (lists,
resolvers, arguments, masked fields, abstract types) goes through graphql-core unchanged, and
so does every field when an extension wraps resolvers (a strawberry ``resolve`` hook), because
the shortcut would bypass it.

Written by hand because neither graphql-core nor strawberry has this: strawberry's
``is_basic_field`` skips only its own wrapper's ``Info``; graphql-core has no compiled or
"trivial resolver" mode in Python (graphql-jit is JavaScript). It overrides ``execute_field``,
which graphql-core documents as private, so its minor version is pinned in pyproject.toml and
``tests/resolvers/test_plain_fields.py`` compares every plain field's answer, and its errors,
with graphql-core's own execution.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField


@dataclass(frozen=True, slots=True)
class PlainField:
    """How to read and complete one plain field."""

    #: The Python attribute that holds the value (``source_status`` for ``sourceStatus``).
    attribute: str
    #: The field's type as declared, for graphql-core's error handling.
    return_type: GraphQLOutputType
    non_null: bool
    #: Set for scalars and enums; None for an object, whose sub-selection is executed.
    leaf: GraphQLLeafType | None
    #: Set for an object.
    object_type: GraphQLObjectType | None


#: Plain fields by parent type name, then by field name.
PlainFields = Mapping[str, Mapping[str, PlainField]]


def plain_fields(schema: GraphQLSchema) -> PlainFields:
    """Every field of ``schema`` that ``PlainFieldExecution`` may execute with ``getattr``."""
    found: dict[str, dict[str, PlainField]] = {}
    for type_name, graphql_type in schema.type_map.items():
        if not is_object_type(graphql_type) or type_name.startswith("__"):
            continue
        assert isinstance(graphql_type, GraphQLObjectType)
        for field_name, field in graphql_type.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if not isinstance(definition, StrawberryField) or not _is_plain(definition):
                continue
            if field.args:
                continue
            plain = _plain_field(definition.python_name, field.type)
            if plain is not None:
                found.setdefault(type_name, {})[field_name] = plain
    return found


def remember_plain_fields(schema: GraphQLSchema) -> None:
    """Find ``schema``'s plain fields once, where ``PlainFieldExecution`` looks for them."""
    schema.extensions[_EXTENSION_KEY] = plain_fields(schema)


_EXTENSION_KEY = "scv-plain-fields"


def _is_plain(definition: StrawberryField) -> bool:
    return (
        definition.base_resolver is None
        # strawberry's own default (a config may replace it with a resolver of its own)
        and definition.default_resolver is getattr
        and not definition.extensions
        and not definition.permission_classes
        and not definition.directives
    )


def _plain_field(attribute: str, return_type: GraphQLOutputType) -> PlainField | None:
    non_null = isinstance(return_type, GraphQLNonNull)
    named = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if is_leaf_type(named):
        assert isinstance(named, GraphQLLeafType)  # for mypy: is_leaf_type is no TypeGuard
        return PlainField(attribute, return_type, non_null, leaf=named, object_type=None)
    if isinstance(named, GraphQLObjectType) and named.is_type_of is None:
        return PlainField(attribute, return_type, non_null, leaf=None, object_type=named)
    return None  # lists, interfaces, unions: graphql-core's general path


class PlainFieldExecution(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, reading plain fields without a resolver call.

    The plain fields are found once per schema (``remember_plain_fields``) and kept in the
    schema's ``extensions``, so each request's context only looks them up.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain: PlainFields = self.schema.extensions.get(_EXTENSION_KEY) or {}
        # An extension with a ``resolve`` hook wraps every resolver: nothing is plain then.
        if self.middleware_manager is not None and self.middleware_manager.middlewares:
            self._plain = {}

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        plain = self._plain.get(parent_type.name)
        field = None if plain is None else plain.get(field_details_list[0].node.name.value)
        if field is None:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        try:
            value = getattr(source, field.attribute)
            if value is None or value is Undefined:
                if field.non_null:
                    msg = (
                        "Cannot return null for non-nullable field"
                        f" {parent_type.name}.{field_details_list[0].node.name.value}."
                    )
                    raise TypeError(msg)
                return None
            if field.leaf is not None:
                return self.complete_leaf_value(field.leaf, value)
            assert field.object_type is not None
            completed = self.collect_and_execute_subfields(
                field.object_type, field_details_list, path, value, position_context
            )
            if self.is_awaitable(completed):
                return self._await_subfields(completed, field, field_details_list, path)
            return completed
        except Exception as raw_error:  # graphql-core's own handling, as execute_field does
            self.handle_field_error(raw_error, field.return_type, field_details_list, path)
            return None

    async def _await_subfields(
        self,
        completed: Awaitable[Any],
        field: PlainField,
        field_details_list: FieldDetailsList,
        path: Path,
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, field.return_type, field_details_list, path)
            return None


__all__ = [
    "PlainField",
    "PlainFieldExecution",
    "PlainFields",
    "plain_fields",
    "remember_plain_fields",
]
