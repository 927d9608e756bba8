"""Repetition is refused before anything executes, with one error: a field selected over and
over (500 times, or through fragments), a directive repeated (100 times on one field)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from app.http.errors import PresentErrors
from app.limits.checks import limit_extensions
from app.limits.settings import QueryLimitSettings
from app.wiring.metrics import GatewayMetrics
from resolvers.extensions.validation_cache import ValidatedDocuments, ValidationByText
from resolvers.schema import build_schema

LIMITS = QueryLimitSettings(max_duplicate_fields=3, budget_enabled=False)


def schema_with(limits: QueryLimitSettings) -> Any:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    return build_schema(
        extensions=[
            lambda: ValidationByText(ValidatedDocuments(maxsize=8)),
            PresentErrors,
            *limit_extensions(
                limits, introspection=True, budget=None, count_refusal=metrics.count_refusal
            ),
        ]
    )


SCHEMA = schema_with(LIMITS)


async def errors_of(document: str) -> list[dict[str, Any]]:
    # No resolver may run: the context is None, so any that did would fail the test.
    result = await SCHEMA.execute(document, context_value=None)
    assert result.data is None
    return [error.formatted for error in result.errors or []]


@pytest.mark.parametrize(
    ("document", "measured"),
    [
        ("{ dataQuality { generatedAt generatedAt generatedAt generatedAt } }", 4),
        ("{ dataQuality { " + "generatedAt " * 500 + "} }", 500),
        (
            "{ dataQuality { generatedAt ...F ...F ... on DataQualityReport { generatedAt } } }"
            " fragment F on DataQualityReport { generatedAt }",
            4,
        ),
        ("{ " + 'customerByEmail(email: "a@example.com") { id } ' * 4 + "}", 4),
    ],
    ids=["four", "five-hundred", "through-fragments", "root-fields"],
)
async def test_a_field_selected_too_often_is_refused_once(document: str, measured: int) -> None:
    [error] = await errors_of(document)

    assert error["extensions"] == {
        "code": "TOO_MANY_DUPLICATE_FIELDS",
        "limit": 3,
        "measured": measured,
    }


async def test_conflicting_duplicates_get_the_refusal_alone() -> None:
    # 150 root fields under one response key, each with other arguments: graphql-core would
    # add an error per conflicting pair (up to its cap of 100).
    fields = " ".join(f'customerByEmail(email: "{n}@example.com") {{ id }}' for n in range(150))
    errors = await errors_of("{ " + fields + " }")

    assert [e["extensions"]["code"] for e in errors] == ["TOO_MANY_DUPLICATE_FIELDS"]


async def test_a_field_selected_up_to_the_limit_validates() -> None:
    result = await SCHEMA.execute("query { __typename __typename __typename }", context_value=None)
    assert result.errors is None


async def test_a_directive_repeated_100_times_is_refused_once_in_a_short_answer() -> None:
    document = "{ dataQuality { generatedAt" + " @include(if: true)" * 100 + " } }"

    errors = await errors_of(document)

    [error] = errors
    assert error["extensions"] == {"code": "DIRECTIVE_REPEATED", "limit": 1, "measured": 100}
    assert "@include" in error["message"]
    assert len(orjson.dumps({"errors": errors})) < len(document)


async def test_different_directives_on_one_field_validate() -> None:
    result = await SCHEMA.execute(
        "query($a: Boolean!) { __typename @include(if: $a) @skip(if: false) }",
        variable_values={"a": True},
        context_value=None,
    )
    assert result.errors is None
    assert result.data == {"__typename": "Query"}
