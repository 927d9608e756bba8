"""Every limit refuses with its code, the limit and the measure, before any resolver runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from graphql import GraphQLSyntaxError, parse
from prometheus_client import CollectorRegistry
from strawberry.extensions import ParserCache

from app.http.errors import PresentErrors
from app.limits.budget import LocalCostBudget
from app.limits.checks import limit_extensions, present_parse_refusal
from app.limits.settings import QueryLimitSettings
from app.wiring.metrics import GatewayMetrics
from kernel.access import Principal
from resolvers.extensions.validation_cache import ValidatedDocuments, ValidationByText
from tests.fakes import ManualClock

#: Every resolver that ran, in order: a refusal must leave it empty.
CALLS: list[str] = []


@strawberry.type
class Node:
    name: str

    @strawberry.field
    def child(self) -> Node:
        CALLS.append("child")
        return Node(name=f"{self.name}/child")

    @strawberry.field
    def items(self, first: int | None = 10) -> list[Node]:
        CALLS.append("items")
        return [Node(name=f"{self.name}/{n}") for n in range(first or 0)]


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Node:
        CALLS.append("root")
        return Node(name="root")


LIMITS = QueryLimitSettings(
    max_depth=3,
    max_aliases=2,
    max_tokens=60,
    max_first=100,
    max_cost={"agent": 50, "analyst": 500},
    budget_per_minute={"agent": 100, "analyst": 1000},
)


@dataclass
class Gateway:
    schema: strawberry.Schema
    metrics: GatewayMetrics
    clock: ManualClock

    async def run(
        self, document: str, role: str = "agent", subject: str = "a-1", **variables: Any
    ) -> dict[str, Any]:
        CALLS.clear()
        context = type("Context", (), {"principal": Principal(subject=subject, role=role)})()
        result = await self.schema.execute(
            document, variable_values=variables, context_value=context
        )
        return {
            "data": result.data,
            "errors": [error.formatted for error in result.errors or []],
        }

    def refused(self, code: str) -> float:
        value = self.metrics.registry.get_sample_value("scv_graphql_refused_total", {"code": code})
        return value or 0.0


def gateway(limits: QueryLimitSettings = LIMITS, *, introspection: bool = True) -> Gateway:
    metrics = GatewayMetrics.create(CollectorRegistry(), multiproc_dir="")
    clock = ManualClock(0.0)
    validated = ValidatedDocuments(maxsize=64)
    schema = strawberry.Schema(
        query=Query,
        extensions=[
            lambda: ParserCache(maxsize=64),
            lambda: ValidationByText(validated),
            PresentErrors,
            *limit_extensions(
                limits,
                introspection=introspection,
                budget=LocalCostBudget(clock=clock),
                count_refusal=metrics.count_refusal,
            ),
        ],
    )
    return Gateway(schema=schema, metrics=metrics, clock=clock)


@pytest.fixture
def gw() -> Gateway:
    return gateway()


def only_error(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["data"] is None, answer
    assert CALLS == [], "a resolver ran for a refused request"
    [error] = answer["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


async def test_a_query_within_every_limit_runs(gw: Gateway) -> None:
    answer = await gw.run("{ root { child { name } items(first: 2) { name } } }")
    assert answer["errors"] == []
    assert answer["data"]["root"]["child"]["name"] == "root/child"


async def test_a_query_too_deep_is_refused_with_its_depth(gw: Gateway) -> None:
    answer = await gw.run("{ root { child { child { child { child { name } } } } } }")
    assert only_error(answer) == {"code": "QUERY_TOO_DEEP", "limit": 3, "measured": 5}
    assert gw.refused("QUERY_TOO_DEEP") == 1


async def test_depth_through_fragments_is_measured_too(gw: Gateway) -> None:
    document = """{ root { ...deep } }
    fragment deep on Node { child { child { child { name } } } }"""
    assert only_error(await gw.run(document))["code"] == "QUERY_TOO_DEEP"


async def test_too_many_aliases_are_refused_with_their_count(gw: Gateway) -> None:
    answer = await gw.run("{ a: root { name } b: root { name } c: root { name } }")
    assert only_error(answer) == {"code": "TOO_MANY_ALIASES", "limit": 2, "measured": 3}


async def test_too_many_tokens_are_refused_before_parsing_ends(gw: Gateway) -> None:
    CALLS.clear()
    result = await gw.schema.execute("{ root { " + "name " * 80 + "} }")
    assert result.data is None
    assert CALLS == []
    [error] = [present_parse_refusal(error) for error in result.errors or []]
    assert error.extensions == {"code": "TOO_MANY_TOKENS", "limit": 60}


def test_another_parse_error_is_presented_with_its_code() -> None:
    with pytest.raises(GraphQLSyntaxError) as raised:
        parse("{ root { ")
    assert present_parse_refusal(raised.value).extensions == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_a_literal_first_over_the_limit_is_refused_with_where_it_was(gw: Gateway) -> None:
    answer = await gw.run("{ root { items(first: 101) { name } } }")
    assert only_error(answer) == {
        "code": "FIRST_TOO_LARGE",
        "limit": 100,
        "measured": 101,
        "path": "root.items",
    }


async def test_a_variables_first_over_the_limit_is_refused(gw: Gateway) -> None:
    answer = await gw.run(
        "query($n: Int) { root { many: items(first: $n) { name } } }", role="analyst", n=5000
    )
    assert only_error(answer)["code"] == "FIRST_TOO_LARGE"


async def test_the_same_document_with_a_smaller_first_runs(gw: Gateway) -> None:
    await gw.run("query($n: Int) { root { items(first: $n) { name } } }", n=5000)
    answer = await gw.run("query($n: Int) { root { items(first: $n) { name } } }", n=3)
    assert answer["errors"] == []


async def test_a_query_over_its_roles_cost_is_refused_with_its_cost(gw: Gateway) -> None:
    # root 1 + 60 x (item 1 + child 1)
    answer = await gw.run("{ root { items(first: 60) { child { name } } } }")
    assert only_error(answer) == {"code": "QUERY_TOO_COSTLY", "limit": 50, "measured": 121}


async def test_the_cost_limit_is_per_role(gw: Gateway) -> None:
    answer = await gw.run("{ root { items(first: 60) { child { name } } } }", role="analyst")
    assert answer["errors"] == []


async def test_a_spent_budget_is_refused_with_when_to_retry(gw: Gateway) -> None:
    document = "{ root { items(first: 39) { name } } }"  # costs 40 of the agent's 100 a minute
    assert (await gw.run(document))["errors"] == []
    assert (await gw.run(document))["errors"] == []
    answer = await gw.run(document)
    # 20 left, 40 needed, 100 a minute refills 20 in 12 seconds.
    assert only_error(answer) == {
        "code": "RATE_LIMITED",
        "limit": 100,
        "measured": 40,
        "retryAfter": 12,
    }
    assert gw.refused("RATE_LIMITED") == 1


async def test_a_spent_budget_recovers_as_it_refills(gw: Gateway) -> None:
    document = "{ root { items(first: 49) { name } } }"
    await gw.run(document)
    await gw.run(document)
    assert (await gw.run(document))["errors"] != []
    gw.clock.now += 30
    assert (await gw.run(document))["errors"] == []


async def test_budgets_are_per_principal(gw: Gateway) -> None:
    document = "{ root { items(first: 49) { name } } }"
    await gw.run(document, subject="a-1")
    await gw.run(document, subject="a-1")
    assert (await gw.run(document, subject="a-2"))["errors"] == []


async def test_introspection_is_refused_when_it_is_off() -> None:
    answer = await gateway(introspection=False).run("{ __schema { queryType { name } } }")
    assert only_error(answer)["code"] == "INTROSPECTION_DISABLED"


async def test_typename_is_not_introspection() -> None:
    answer = await gateway(introspection=False).run("{ root { __typename } }")
    assert answer["errors"] == []


async def test_suggestions_are_hidden_when_introspection_is_off() -> None:
    answer = await gateway(introspection=False).run("{ root { nam } }")
    [error] = answer["errors"]
    assert "Did you mean" not in error["message"]
    assert error["message"].startswith("Cannot query field 'nam' on type 'Node'.")


async def test_suggestions_are_kept_when_introspection_is_on(gw: Gateway) -> None:
    [error] = (await gw.run("{ root { nam } }"))["errors"]
    assert "Did you mean 'name'?" in error["message"]


async def test_an_unlimited_budget_is_not_charged() -> None:
    gw = gateway(LIMITS.model_copy(update={"budget_enabled": False}))
    document = "{ root { items(first: 49) { name } } }"
    for _ in range(5):
        assert (await gw.run(document))["errors"] == []


def test_a_query_limit_over_its_roles_budget_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="analyst"):
        QueryLimitSettings(max_cost={"analyst": 5000}, budget_per_minute={"analyst": 4000})


@pytest.mark.parametrize(
    ("introspection", "demo", "on"),
    [(None, True, True), (None, False, False), (False, True, False), (True, False, True)],
)
def test_introspection_follows_demo_mode_unless_set(
    introspection: bool | None, demo: bool, on: bool
) -> None:
    limits = QueryLimitSettings(introspection=introspection, graphiql=introspection)
    assert limits.introspection_on(demo) is on
    assert limits.graphiql_on(demo) is on
