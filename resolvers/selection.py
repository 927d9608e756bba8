"""Which sub-fields a query selects on the field being resolved: for panels whose fields
can be read in fewer upstream calls when the resolver knows what else is asked.

strawberry's ``info.selected_fields`` converts the whole sub-tree, arguments and directives
included, into its own objects on every call; a panel only needs the names one level down,
so graphql-core's nodes are walked directly (strawberry's ``Info`` keeps them as
``_raw_info``). Fragments, named and inline, are followed. A field under ``@skip`` or
``@include`` counts as selected: at worst a combined read brings a little more than asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


def selected_names(info: Any) -> frozenset[str]:
    """The names of the fields selected under the field ``info`` resolves (one level)."""
    raw = info._raw_info
    names: set[str] = set()
    for node in raw.field_nodes:
        _collect(node.selection_set, raw.fragments, names, set())
    return frozenset(names)


def _collect(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    names: set[str],
    seen: set[str],
) -> None:
    if selection_set is None:
        return
    selections: Iterable[Any] = selection_set.selections
    for selection in selections:
        if isinstance(selection, FieldNode):
            names.add(selection.name.value)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, names, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            # Validation refuses fragment cycles; ``seen`` keeps this safe without relying on it.
            if name not in seen and name in fragments:
                seen.add(name)
                _collect(fragments[name].selection_set, fragments, names, seen)
