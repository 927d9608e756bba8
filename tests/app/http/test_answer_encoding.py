"""Every answer can be written as JSON: an arithmetic result past 64 bits included."""

from __future__ import annotations

import json

from prometheus_client import CollectorRegistry

from app.http.errors import PresentErrors
from app.http.graphql import GatewayGraphQL
from app.limits.checks import limit_extensions
from app.limits.settings import QueryLimitSettings
from app.wiring.metrics import GatewayMetrics
from resolvers.schema import build_schema

#: Deep documents allowed, so that a cost (a product of lists' sizes) can pass 64 bits.
DEEP = QueryLimitSettings(max_depth=30, max_tokens=5000, budget_enabled=False)


def nested_duplicates(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"possibleDuplicates(first: 100) {{ customer {{ {inner} }} }}"
    return f'{{ customer(id: "x") {{ {inner} }} }}'


async def test_a_cost_past_64_bits_is_refused_and_written_whole() -> None:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    schema = build_schema(
        extensions=[
            PresentErrors,
            *limit_extensions(
                DEEP, introspection=True, budget=None, count_refusal=metrics.count_refusal
            ),
        ]
    )
    result = await schema.execute(nested_duplicates(11), context_value=None)
    [error] = result.errors or []

    encoded = GatewayGraphQL(schema).encode_json({"errors": [error.formatted]})

    extensions = json.loads(encoded)["errors"][0]["extensions"]
    assert extensions["code"] == "QUERY_TOO_COSTLY"
    assert extensions["measured"] > 2**64


def test_ordinary_answers_are_written_by_orjson_as_before() -> None:
    graphql = GatewayGraphQL(build_schema())

    assert graphql.encode_json({"data": {"n": 1, "s": "é"}}) == '{"data":{"n":1,"s":"é"}}'.encode()
