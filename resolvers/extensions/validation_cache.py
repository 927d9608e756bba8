"""Validation results remembered by the operation's text, not by its parsed document.

strawberry's ``ValidationCache`` keys its LRU on the parsed ``DocumentNode``, and
graphql-core hashes a document by walking every node of it: for the agent desktop's whole
view some 170 nodes on every request (cProfile; measured in process, about 0.09 ms of a
warm view's 2 ms). The text the document was parsed from says the same thing (``ParserCache``
parses equal texts to one document, and the parse options are fixed per gateway), and a
``str`` is hashed once per request in C. Everything else is strawberry's: the validation
itself, the rules the extensions add, where the errors go.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from graphql import ASTValidationRule, DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class ValidatedDocuments:
    """A bounded LRU of validation errors by (query text, rules), for one schema.

    One per app, shared by every request's ``ValidationByText``: the remembered results are
    the point, and the app has one schema, so the schema is not part of the key.
    """

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._errors: OrderedDict[
            tuple[str, tuple[type[ASTValidationRule], ...]], list[GraphQLError]
        ] = OrderedDict()

    def __len__(self) -> int:
        return len(self._errors)

    def errors(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        key = (query, rules)
        found = self._errors.get(key)
        if found is not None:
            self._errors.move_to_end(key)
            return found
        errors = validate_document(schema, document, rules)
        self._errors[key] = errors
        if len(self._errors) > self._maxsize:
            self._errors.popitem(last=False)
        return errors


class ValidationByText(SchemaExtension):
    """strawberry's ``ValidationCache``, keyed by the operation's text."""

    def __init__(self, documents: ValidatedDocuments) -> None:
        super().__init__()
        self._documents = documents

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema = context.schema._schema
        document = context.graphql_document
        assert document is not None  # strawberry validates only a document it parsed
        rules = tuple(context.validation_rules)
        if context.query is None:  # handed over parsed: no text to key on
            context.pre_execution_errors = validate_document(schema, document, rules)
        else:
            context.pre_execution_errors = self._documents.errors(
                schema, context.query, document, rules
            )
        yield
