"""Validation remembered by the operation's text: same answers as validating every time."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import ASTValidationRule, parse
from strawberry.extensions import AddValidationRules, ParserCache
from strawberry.extensions.query_depth_limiter import QueryDepthLimiter
from strawberry.schema.schema import validate_document

from resolvers.extensions.validation_cache import ValidatedDocuments, ValidationByText


@strawberry.type
class Node:
    name: str

    @strawberry.field
    def child(self) -> Node:
        return Node(name=f"{self.name}/child")


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Node:
        return Node(name="root")


VALID = "{ root { name } }"
INVALID = "{ root { nmae } }"
DEEP = "{ root { child { child { child { name } } } } }"
#: The rule the gateway's depth limit adds (as app.limits.checks takes it).
DEPTH_OF_2 = QueryDepthLimiter(max_depth=2).validation_rules[0]


def schema(validated: ValidatedDocuments, *rules: Any) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        extensions=[
            lambda: ParserCache(maxsize=8),
            lambda: ValidationByText(validated),
            *([lambda: AddValidationRules(list(rules))] if rules else []),
        ],
    )


def messages(result: Any) -> list[str]:
    return [error.message for error in result.errors or []]


def test_a_valid_operation_runs_every_time_and_is_validated_once() -> None:
    validated = ValidatedDocuments(maxsize=8)
    gateway = schema(validated)

    first = gateway.execute_sync(VALID)
    second = gateway.execute_sync(VALID)

    assert first.data == second.data == {"root": {"name": "root"}}
    assert len(validated) == 1


def test_an_invalid_operation_is_refused_again_from_what_was_remembered() -> None:
    validated = ValidatedDocuments(maxsize=8)
    gateway = schema(validated)

    first = gateway.execute_sync(INVALID)
    second = gateway.execute_sync(INVALID)

    assert second.data is None
    assert messages(second) == messages(first)
    assert "Cannot query field 'nmae' on type 'Node'." in messages(second)[0]


def test_the_rules_extensions_add_are_part_of_what_is_remembered() -> None:
    validated = ValidatedDocuments(maxsize=8)
    plain, limited = schema(validated), schema(validated, DEPTH_OF_2)

    assert plain.execute_sync(DEEP).errors is None
    refused = limited.execute_sync(DEEP)

    assert refused.data is None
    assert "exceeds maximum operation depth of 2" in messages(refused)[0]
    assert len(validated) == 2


def test_the_same_errors_as_graphql_core_validating_the_document() -> None:
    validated = ValidatedDocuments(maxsize=8)
    gateway = strawberry.Schema(query=Query)
    rules: tuple[type[ASTValidationRule], ...] = ()
    document = parse(INVALID)

    remembered = validated.errors(gateway._schema, INVALID, document, rules)

    assert [e.message for e in remembered] == [
        e.message for e in validate_document(gateway._schema, document, rules)
    ]


def test_the_least_recently_used_text_is_forgotten_beyond_the_bound() -> None:
    validated = ValidatedDocuments(maxsize=2)
    gateway = strawberry.Schema(query=Query)
    texts = ["{ root { name } }", "{ root { child { name } } }", "{ __typename }"]

    for text in texts:
        validated.errors(gateway._schema, text, parse(text), ())

    assert len(validated) == 2
