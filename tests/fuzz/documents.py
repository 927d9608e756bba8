"""Generated GraphQL requests over the whole schema, aimed at the seeded customers.

hypothesis-graphql writes the documents (valid ones, and ones with one schema violation);
here their root arguments are, some of the time, swapped for real customers' keys (so the
resolvers reach real records rather than stopping at "not found"), and some are lifted into
variables whose JSON values may be of any type (so variable coercion is exercised too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import hypothesis_graphql as hg
from graphql import (
    DocumentNode,
    GraphQLField,
    GraphQLSchema,
    NameNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    build_schema,
    parse_type,
    print_ast,
    value_from_ast_untyped,
)
from graphql.language import FieldNode
from hypothesis import strategies as st
from hypothesis_graphql import nodes

from tests.fuzz.keys import EMAILS, PHONES, Keys

SCHEMA_SDL = (Path(__file__).parents[2] / "schema.graphql").read_text(encoding="utf-8")
SCHEMA: GraphQLSchema = build_schema(SCHEMA_SDL)

#: The custom scalars, valid most of the time and arbitrary text otherwise.
CUSTOM_SCALARS = {
    "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), st.text(max_size=12)).map(
        nodes.String
    ),
    "DateTime": st.one_of(st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=12)).map(
        nodes.String
    ),
    "Decimal": st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=12)
    ).map(nodes.String),
}

#: JSON values of any type, for a variable: wrong types are client mistakes to be named.
ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@dataclass(frozen=True, slots=True)
class Request:
    """One request's body: the document and its variables."""

    query: str
    variables: dict[str, Any]

    def json(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


def key_pools(keys: Keys) -> dict[str, tuple[str, ...]]:
    """Real values for root arguments, by argument name."""
    ids = (*keys.customer_ids, *keys.source_ids)
    return {
        "email": EMAILS,
        "phone": PHONES,
        "id": ids,
        "customerId": keys.customer_ids,
        "externalId": keys.source_ids,
        "contactId": keys.contact_ids,
        "toAgent": ("agent-fuzz", "agent-2"),
    }


@st.composite
def requests(draw: st.DrawFn, keys: Keys) -> Request:
    """A generated document (valid or with one violation) with keys and variables; some root
    fields are also asked again under an alias, so that siblings resolve side by side."""
    mode = draw(st.sampled_from((hg.Mode.POSITIVE, hg.Mode.POSITIVE, hg.Mode.NEGATIVE)))
    document: DocumentNode = draw(
        hg.from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, print_ast=lambda d: d, mode=mode)
    )
    pools = key_pools(keys)
    operands = _Operands(draw, {})
    definitions: list[Any] = []
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            definitions.append(operation)
            continue
        mutation = operation.operation.value == "mutation"
        root = SCHEMA.mutation_type if mutation else SCHEMA.query_type
        # Mutations never end or transfer the call whose grant the agent asks within.
        pools["contactId"] = keys.contact_ids[1:] if mutation else keys.contact_ids
        operands.declared = list(operation.variable_definitions or ())
        selections = []
        for selection in operation.selection_set.selections:
            if not isinstance(selection, FieldNode) or not selection.arguments:
                selections.append(selection)
                continue
            field = root.fields.get(selection.name.value) if root else None
            selections.append(operands.aimed(selection, field, pools))
            if draw(st.integers(0, 3)) == 0:
                alias = NameNode(value=f"again{len(selections)}")
                selections.append(replace(operands.aimed(selection, field, pools), alias=alias))
        definitions.append(
            replace(
                operation,
                variable_definitions=tuple(operands.declared),
                selection_set=replace(operation.selection_set, selections=tuple(selections)),
            )
        )
    return Request(
        query=print_ast(replace(document, definitions=tuple(definitions))),
        variables=operands.variables,
    )


class _Operands:
    """The variables of one operation as its root fields' arguments are aimed."""

    def __init__(self, draw: st.DrawFn, variables: dict[str, Any]) -> None:
        self.draw = draw
        self.variables = variables
        self.declared: list[VariableDefinitionNode] = []

    def aimed(
        self, selection: FieldNode, field: GraphQLField | None, pools: dict[str, tuple[str, ...]]
    ) -> FieldNode:
        """``selection`` with, often, real keys as its arguments, some sent as variables."""
        draw = self.draw
        arguments = []
        for argument in selection.arguments:
            value: ValueNode = argument.value
            pool = pools.get(argument.name.value)
            if pool and draw(st.integers(0, 3)) > 0:
                value = StringValueNode(value=draw(st.sampled_from(pool)))
            spec = field.args.get(argument.name.value) if field else None
            if spec is not None and draw(st.integers(0, 4)) == 0:
                name = f"v{len(self.variables)}"
                self.declared.append(
                    VariableDefinitionNode(
                        variable=VariableNode(name=NameNode(value=name)),
                        type=parse_type(str(spec.type)),
                        directives=(),
                    )
                )
                # Mostly the literal's own value (so the operation runs), else anything.
                given = value_from_ast_untyped(value)
                self.variables[name] = draw(
                    st.sampled_from((given, given, given, *(pool or ())[:2])) | ANY_JSON
                )
                value = VariableNode(name=NameNode(value=name))
            arguments.append(replace(argument, value=value))
        return replace(selection, arguments=tuple(arguments))
