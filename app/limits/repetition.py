"""Repetition refused with one error: a field selected over and over, a directive repeated.

Both are valid enough to cost something: ``{ id id id ... }`` 500 times is legal GraphQL (the
fields merge), and graphql-core compares every pair of them; a non-repeatable directive
written 100 times on one field is refused by graphql-core's ``UniqueDirectivesPerLocationRule``
with one error per repeat (an 18 KB answer to a 1.9 KB request). Here each is one
``QueryRefused``, reported once per document:

- ``TOO_MANY_DUPLICATE_FIELDS``: one field (its response key) selected more than
  ``max_duplicate_fields`` times in one selection set, counted through the fragments spread
  or inlined there, as execution would merge them.
- ``DIRECTIVE_REPEATED``: a non-repeatable directive more than once at one location (the
  spec's own rule, replacing graphql-core's so that it answers once).

Hand-written: graphql-core and strawberry have no limit on repeated fields, and the rules are
small visitors.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    Node,
    SelectionSetNode,
    ValidationContext,
    specified_directives,
)
from graphql.validation import ASTValidationRule

from app.limits.refusal import QueryRefused, refusal_error

DUPLICATE_FIELDS = "TOO_MANY_DUPLICATE_FIELDS"
DIRECTIVE_REPEATED = "DIRECTIVE_REPEATED"


def duplicate_fields_rule(limit: int) -> type[ASTValidationRule]:
    """A rule refusing, once, any selection set that selects one field over ``limit`` times."""

    class DuplicateFields(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            self._reported = False

        def enter_selection_set(self, node: SelectionSetNode, *_args: Any) -> None:
            if self._reported:
                return
            counts: Counter[str] = Counter()
            self._count(node, counts, set())
            if not counts:
                return
            key, measured = counts.most_common(1)[0]
            if measured > limit:
                self._reported = True
                refused = QueryRefused(
                    DUPLICATE_FIELDS,
                    f"the field {key!r} is selected {measured} times in one selection set, "
                    f"more than {limit}",
                    limit=limit,
                    measured=measured,
                )
                self.report_error(refusal_error(refused, node))

        def _count(self, node: SelectionSetNode, counts: Counter[str], seen: set[str]) -> None:
            for selection in node.selections:
                if isinstance(selection, FieldNode):
                    counts[(selection.alias or selection.name).value] += 1
                elif isinstance(selection, InlineFragmentNode):
                    self._count(selection.selection_set, counts, seen)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self._fragments.get(name)
                    # A cycle, or an unknown fragment, is validation's own error.
                    if fragment is not None and name not in seen:
                        self._count(fragment.selection_set, counts, seen | {name})

    return DuplicateFields


class RepeatedDirectives(ASTValidationRule):
    """The spec's "directives are unique per location", answered once per document."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        schema = context.schema
        directives = schema.directives if schema else specified_directives
        self._unique = {d.name for d in directives if not d.is_repeatable}
        self._reported = False

    def enter(self, node: Node, *_args: Any) -> None:
        directives: tuple[DirectiveNode, ...] | None = getattr(node, "directives", None)
        if self._reported or not directives:
            return
        counts = Counter(d.name.value for d in directives if d.name.value in self._unique)
        if not counts:
            return
        name, measured = counts.most_common(1)[0]
        if measured > 1:
            self._reported = True
            refused = QueryRefused(
                DIRECTIVE_REPEATED,
                f"the directive '@{name}' can only be used once at this location; "
                f"it is used {measured} times",
                limit=1,
                measured=measured,
            )
            self.report_error(_at(refused, [d for d in directives if d.name.value == name]))


def _at(refused: QueryRefused, nodes: list[DirectiveNode]) -> GraphQLError:
    # The first two: where it is used and where it is repeated; more would only be longer.
    return refusal_error(refused, nodes[:2])
