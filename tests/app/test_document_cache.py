"""The app's parsed and validated documents, remembered by query text."""

from __future__ import annotations

import pytest
from graphql import GraphQLSyntaxError, build_schema, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule

from app.document_cache import Documents

SCHEMA = build_schema("type Query { hello: String }")
RULES = tuple(specified_rules)


def test_the_same_text_is_parsed_once() -> None:
    documents = Documents()
    first = documents.parsed("{ hello }", {})
    assert documents.parsed("{ hello }", {}) is first
    assert documents.parsed("{ hello }", {"max_tokens": 100}) is not first


def test_a_syntax_error_is_raised_each_time_and_the_token_limit_applies() -> None:
    documents = Documents()
    with pytest.raises(GraphQLSyntaxError):
        documents.parsed("{ hello", {})
    with pytest.raises(GraphQLSyntaxError, match="more than 2 tokens"):
        documents.parsed("{ hello }", {"max_tokens": 2})


def test_validation_is_remembered_per_text_and_rules() -> None:
    documents = Documents()
    good = documents.parsed("{ hello }", {})
    bad = documents.parsed("{ goodbye }", {})
    assert documents.errors(SCHEMA, "{ hello }", {}, good, RULES) == []
    errors = documents.errors(SCHEMA, "{ goodbye }", {}, bad, RULES)
    assert [error.message for error in errors] == ["Cannot query field 'goodbye' on type 'Query'."]
    assert documents.errors(SCHEMA, "{ goodbye }", {}, bad, RULES) is errors
    # Other rules, another validation: introspection refused only where the rule is.
    schema_query = "{ __schema { queryType { name } } }"
    introspection = documents.parsed(schema_query, {})
    assert documents.errors(SCHEMA, schema_query, {}, introspection, RULES) == []
    refused = documents.errors(
        SCHEMA, schema_query, {}, introspection, (*RULES, NoSchemaIntrospectionCustomRule)
    )
    assert refused
    assert all("introspection has been disabled" in error.message for error in refused)
    assert documents.validated == 4


def test_remembered_validations_are_bounded() -> None:
    documents = Documents(size=2)
    for name in ("a", "b", "c"):
        text = f"query {name} {{ hello }}"
        documents.errors(SCHEMA, text, {}, documents.parsed(text, {}), RULES)
    assert documents.validated == 2
