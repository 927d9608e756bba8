"""What one operation would cost the systems behind the gateway, measured before it runs.

Hand-written: neither strawberry nor graphql-core measures cost, and the libraries that do
(graphql-cost-analysis and kin) are JavaScript. The walk uses graphql-core's own argument
coercion, so ``first`` is read exactly as execution would read it: a literal, a variable's
value, or the argument's default.

The model (README, "Query cost"):

- every object a query returns costs 1, a scalar 0;
- a list returns ``first`` items when the field takes ``first``; a list inside a
  connection (``customers(first: 50) { edges { node } }``) returns the connection's
  ``first``; any other list its size in ``LIST_SIZES``, else ``DEFAULT_LIST_SIZE``;
- a field whose resolver calls a system of record adds ``UPSTREAM_WEIGHTS`` once per
  object it is read on (one call brings the whole list), before the list multiplies what
  is inside it.

So ``customers(first: 100) { edges { node { profile { name } } } }`` costs
1 (connection) + 100 x (1 edge + 1 node + 10 CRM read + 1 profile) = 1,301.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_nullable_type,
    is_composite_type,
    is_list_type,
    visit,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast

#: What one read of a system of record adds, by ``Type.field``: the fields whose resolvers
#: call billing, CRM, support or the IVR (one call per object they are read on).
UPSTREAM_WEIGHTS: Mapping[str, int] = {
    "Customer.profile": 10,  # CRM: the contact
    "Customer.billing": 10,  # billing: the customer (balance, delinquency, meta)
    "Customer.support": 10,  # support: the requester's tickets
    "BillingAccount.subscriptions": 10,  # billing: a list call of its own
    "BillingAccount.invoices": 10,  # billing: a list call of its own
    "BillingAccount.paymentCards": 10,  # billing: a list call of its own
    "Query.customerBySourceId": 10,  # the IVR's contact, when the source is IVR
}

#: How many items a list without ``first`` is taken to hold, by ``Type.field``.
LIST_SIZES: Mapping[str, int] = {
    "Customer.links": 4,  # one per system at most
    "BillingAccount.paymentCards": 5,
}
#: Items assumed in any other list without ``first``.
DEFAULT_LIST_SIZE = 10

#: The argument that sizes lists and connections.
FIRST = "first"


@dataclass(frozen=True, slots=True)
class FirstArgument:
    """One ``first`` value of the operation, and where it was given."""

    path: str
    value: int


@dataclass(frozen=True, slots=True)
class OperationCost:
    """The cost of an operation, and every ``first`` it asked for."""

    cost: int
    firsts: tuple[FirstArgument, ...] = ()

    def largest_first(self) -> FirstArgument | None:
        """The largest ``first`` asked for, if any."""
        return max(self.firsts, key=lambda found: found.value, default=None)


class UnmeasurableOperation(Exception):
    """The operation cannot be measured (no such operation, bad variables): execution will
    refuse it with graphql-core's own error, so the cost check leaves it to execution."""


@dataclass
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: VariableValues
    firsts: list[FirstArgument] = field(default_factory=list)

    def selections(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode,
        page: int | None,
        path: str,
        seen_fragments: frozenset[str],
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(parent, selection, page, path)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                typed = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(
                    typed or parent, selection.selection_set, page, path, seen_fragments
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                # A cycle is refused by validation; it must not loop here first.
                if fragment is None or name in seen_fragments:
                    continue
                typed = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(
                    typed or parent,
                    fragment.selection_set,
                    page,
                    path,
                    seen_fragments | {name},
                )
        return total

    def field(self, parent: GraphQLNamedType, node: FieldNode, page: int | None, path: str) -> int:
        name = node.name.value
        definition = _field_definition(parent, name)
        if definition is None:
            # Introspection (``__typename``, ``__schema``) and unknown fields cost nothing
            # here: the latter are refused by validation.
            return 0
        where = f"{path}.{node.alias.value if node.alias else name}" if path else name
        key = f"{parent.name}.{name}"
        first = self.first(definition, node, where)
        returned = get_named_type(definition.type)
        own = UPSTREAM_WEIGHTS.get(key, 0)
        if not is_composite_type(returned) or node.selection_set is None:
            return own
        if is_list_type(get_nullable_type(definition.type)):
            items = first if first is not None else page or LIST_SIZES.get(key, DEFAULT_LIST_SIZE)
            # A list's own ``first`` (or the connection's) is used up by this list.
            inner_page = None
        else:
            items = 1
            # A connection's ``first`` sizes the lists inside it (edges, nodes).
            inner_page = first
        inner = self.selections(returned, node.selection_set, inner_page, where, frozenset())
        return own + items * (1 + inner)

    def first(self, definition: GraphQLField, node: FieldNode, where: str) -> int | None:
        if FIRST not in definition.args:
            return None
        try:
            arguments = get_argument_values(definition, node, self.variables)
        except GraphQLError as exc:
            raise UnmeasurableOperation(where) from exc
        value = arguments.get(FIRST)
        if not isinstance(value, int):
            return None
        self.firsts.append(FirstArgument(path=where, value=value))
        return value


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    fields: Mapping[str, GraphQLField] = getattr(parent, "fields", {})
    return fields.get(name)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> OperationCost:
    """The cost of the operation ``operation_name`` of a validated ``document``.

    Raises ``UnmeasurableOperation`` when execution would refuse the operation anyway.
    """
    operation = get_operation_ast(document, operation_name)
    if not isinstance(operation, OperationDefinitionNode):
        raise UnmeasurableOperation("no such operation")
    root = schema.get_root_type(operation.operation)
    if root is None:
        raise UnmeasurableOperation("no root type for the operation")
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if isinstance(coerced, list):
        raise UnmeasurableOperation("variables do not fit their definitions")
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    walk = _Walk(schema=schema, fragments=fragments, variables=coerced)
    cost = walk.selections(root, operation.selection_set, None, "", frozenset())
    return OperationCost(cost=cost, firsts=tuple(walk.firsts))


#: Operations whose cost is remembered (``OperationCosts``): one per query text, operation and
#: set of ``first`` values a client sends, so a few hundred hold every client's.
REMEMBERED_COSTS = 1024


class _FirstVariables(Visitor):
    """The names of the variables given as a ``first`` argument anywhere in a document."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def enter_argument(self, node: Any, *_: Any) -> None:
        if node.name.value == FIRST and isinstance(node.value, VariableNode):
            self.names.add(node.value.name.value)


class OperationCosts:
    """``operation_cost``, remembered per query text, operation name and the values of the
    variables that reach a ``first``: nothing else can change what an operation costs.

    The walk costs as much CPU as executing a small query, on every request; clients send
    the same few documents with different customers' ids, so nearly all of them hit.
    Hand-written (an ``OrderedDict`` LRU) because the key is built from the document, which
    ``functools.lru_cache`` cannot do, and bounded by entries (``REMEMBERED_COSTS``).
    One per app (its schema never changes). An operation that cannot be measured is never
    remembered: it is measured (and refused by execution) each time. Only a cost measured
    with every variable valid is remembered, so a later request with the same ``first``
    values costs the same, whatever its other variables hold (execution refuses those that
    are invalid).
    """

    def __init__(self, size: int = REMEMBERED_COSTS) -> None:
        self._size = size
        self._costs: OrderedDict[Hashable, OperationCost] = OrderedDict()
        self._sizing: OrderedDict[str, frozenset[str]] = OrderedDict()

    @property
    def remembered(self) -> int:
        """How many operations' costs are remembered."""
        return len(self._costs)

    def cost(
        self,
        schema: GraphQLSchema,
        query: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> OperationCost:
        key = self._key(query, document, operation_name, variables or {})
        if key is None:
            return operation_cost(schema, document, operation_name, variables)
        found = self._costs.get(key)
        if found is not None:
            self._costs.move_to_end(key)
            return found
        measured = operation_cost(schema, document, operation_name, variables)
        self._costs[key] = measured
        if len(self._costs) > self._size:
            self._costs.popitem(last=False)
        return measured

    def _key(
        self,
        query: str | None,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any],
    ) -> Hashable | None:
        if query is None:
            return None
        sizing = self._sizing.get(query)
        if sizing is None:
            finder = _FirstVariables()
            visit(document, finder)
            sizing = frozenset(finder.names)
            self._sizing[query] = sizing
            if len(self._sizing) > self._size:
                self._sizing.popitem(last=False)
        values = tuple((name, variables.get(name, _ABSENT)) for name in sorted(sizing))
        key = (query, operation_name, values)
        try:
            hash(key)
        except TypeError:
            # A list or an object where an Int belongs: execution refuses it; not remembered.
            return None
        return key


#: A variable the request did not send (its default, if any, applies).
_ABSENT = object()
