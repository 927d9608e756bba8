"""Parsed and validated documents, remembered per query text: one schema extension in place
of strawberry's ``ParserCache`` and ``ValidationCache``.

strawberry's ``ValidationCache`` keys its LRU on the parsed document, and a graphql-core
document hashes by walking every one of its nodes: the agent desktop's whole view (some 170
nodes) was hashed on every request. Here both steps are keyed by the query text (a string
hashes once and keeps its hash), the parser's options and the validation rules, and one
extension does both (strawberry builds every extension's hooks anew for each request).

One ``Documents`` per app: its schema never changes, so it is not part of the key. Errors
found by validation are shared between the requests that send the same text, as with
strawberry's cache: whoever changes one must copy it first (``GuardCost`` does).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import DocumentNode, GraphQLError, parse, validate
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

#: Query texts remembered, parsed and validated (each).
DOCUMENT_CACHE_SIZE = 256

_ValidationKey = tuple[str, tuple[tuple[str, Any], ...], tuple[type[ASTValidationRule], ...]]


class Documents:
    """One app's documents by query text: parsed (LRU) and validated (LRU)."""

    def __init__(self, size: int = DOCUMENT_CACHE_SIZE) -> None:
        self._size = size
        self._parse: Callable[[str, tuple[tuple[str, Any], ...]], DocumentNode] = lru_cache(
            maxsize=size
        )(_parse)
        self._errors: OrderedDict[_ValidationKey, list[GraphQLError]] = OrderedDict()

    def parsed(self, query: str, options: Mapping[str, Any]) -> DocumentNode:
        """``query`` parsed with ``options`` (``max_tokens``); raises the parser's error."""
        return self._parse(query, tuple(sorted(options.items())))

    def errors(
        self,
        schema: Any,
        query: str,
        options: Mapping[str, Any],
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        """What validating ``document`` (parsed from ``query``) with ``rules`` finds."""
        key = (query, tuple(sorted(options.items())), rules)
        found = self._errors.get(key)
        if found is not None:
            self._errors.move_to_end(key)
            return found
        errors = validate(schema, document, rules)
        self._errors[key] = errors
        if len(self._errors) > self._size:
            self._errors.popitem(last=False)
        return errors

    @property
    def validated(self) -> int:
        """How many validations are remembered (tests)."""
        return len(self._errors)


def _parse(query: str, options: tuple[tuple[str, Any], ...]) -> DocumentNode:
    return parse(query, **dict(options))


class DocumentCache(SchemaExtension):
    """Serves the parse and the validation of a query text this app has seen before."""

    def __init__(self, documents: Documents) -> None:
        super().__init__()
        self._documents = documents

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            # A syntax error raised here leaves the operation before any extension sees
            # it: the GraphQL view gives it its code (``present_parse_refusal``).
            context.graphql_document = self._documents.parsed(context.query, context.parse_options)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.query and context.graphql_document is not None and context.validation_rules:
            context.pre_execution_errors = self._documents.errors(
                context.schema._schema,
                context.query,
                context.parse_options,
                context.graphql_document,
                tuple(context.validation_rules),
            )
        yield
