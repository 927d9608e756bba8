"""What a platform operator may ask: health, metrics and the integration KPIs, never a
customer.

The operator role runs the platform for every tenant (``kernel.tenancy.OPERATOR_ROLE``).
Masking alone would still let it look customers up (a found customer's id, links and
counts are not personal fields), so an operation of an operator that names any root field
holding customer data is refused whole, before anything executes, with one clear error.
The root fields it may name are listed here (``PLATFORM_FIELDS``): a new root field is
refused to operators until someone decides it holds no customer data.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from kernel.tenancy import OPERATOR_ROLE, CustomerDataRefused

#: The root fields that hold no customer data: what the platform's operators may ask.
PLATFORM_FIELDS = frozenset(
    {"integrationKpis", "sourceRollouts", "__typename", "__schema", "__type"}
)


def root_fields(document: DocumentNode, operation_name: str | None) -> set[str]:
    """The root fields the operation named ``operation_name`` (or the only one) selects,
    through fragments; empty when the document names no such operation."""
    fragments = {
        node.name.value: node
        for node in document.definitions
        if isinstance(node, FragmentDefinitionNode)
    }
    operations = [
        node
        for node in document.definitions
        if isinstance(node, OperationDefinitionNode)
        and (
            operation_name is None or (node.name is not None and node.name.value == operation_name)
        )
    ]
    if len(operations) != 1:
        return set()
    found: set[str] = set()
    _collect(operations[0].selection_set, fragments, found, set())
    return found


def _collect(
    selections: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    found: set[str],
    seen: set[str],
) -> None:
    for node in selections.selections:
        if isinstance(node, FieldNode):
            found.add(node.name.value)
        elif isinstance(node, InlineFragmentNode):
            _collect(node.selection_set, fragments, found, seen)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
            seen.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, found, seen)


def refused_fields(role: str, fields: Iterable[str]) -> list[str]:
    """The root fields among ``fields`` a principal of ``role`` may not ask for."""
    if role != OPERATOR_ROLE:
        return []
    return sorted(set(fields) - PLATFORM_FIELDS)


class PlatformFieldsOnly(SchemaExtension):
    """Refuses an operator's operation that names a root field holding customer data."""

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        role = str(getattr(principal, "role", ""))
        if role == OPERATOR_ROLE and context.graphql_document is not None:
            refused = refused_fields(
                role, root_fields(context.graphql_document, context.operation_name)
            )
            if refused:
                refusal = CustomerDataRefused(
                    "a platform operator sees health, metrics and the integration KPIs, never "
                    f"customer data: {', '.join(refused)} refused"
                )
                error = GraphQLError(refusal.message, original_error=refusal)
                operation = _operation_type(context.graphql_document, context.operation_name)
                if operation is OperationType.SUBSCRIPTION:
                    # A subscription's result is not short-circuited: a raise is its refusal.
                    raise refusal
                context.result = ExecutionResult(data=None, errors=[error])
        yield


def _operation_type(document: DocumentNode, operation_name: str | None) -> OperationType | None:
    for node in document.definitions:
        if isinstance(node, OperationDefinitionNode) and (
            operation_name is None or (node.name is not None and node.name.value == operation_name)
        ):
            return node.operation
    return None
