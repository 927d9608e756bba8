"""The limits end to end: each refusal has its code and limit, and nothing behind saw it.

A gateway of this module's own, with small limits, beside the session's stack (its sandbox
and its database). "Nothing executed" is read where it would show: the sandbox's request
counts, and the audit trail's rows in PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from app.limits.budget import LocalCostBudget
from app.limits.persisted_queries import sha256_of
from app.limits.settings import PersistedQuerySettings, QueryLimitSettings
from app.main import create_app
from app.security.demo_keys import mint_token
from app.settings import Settings
from tests.e2e.harness import SYSTEMS, Stack, serve, stop

pytestmark = pytest.mark.e2e

ADA = "ada.lovelace@example.com"
#: 1 + profile 11 + billing 11 + support 11.
VIEW = """query View($email: String!) { customerByEmail(email: $email) {
  id profile { name } billing { delinquent } support { openTicketCount }
} }"""
VIEW_COST = 34

LIMITS = QueryLimitSettings(
    max_depth=3,
    max_aliases=2,
    max_tokens=200,
    max_body_bytes=4096,
    max_first=100,
    max_cost={"agent": 60, "analyst": 1000},
    budget_per_minute={"agent": 100, "analyst": 5000},
    introspection=False,
    graphiql=False,
)

REFUSED: dict[str, tuple[str, dict[str, object]]] = {
    "QUERY_TOO_DEEP": (
        "query($email: String!) { customerByEmail(email: $email) "
        "{ billing { subscriptions { amount { currency } } } } }",
        {"limit": 3, "measured": 4},
    ),
    "TOO_MANY_ALIASES": (
        "query($email: String!) { a: customerByEmail(email: $email) { id } "
        "b: customerByEmail(email: $email) { id } c: customerByEmail(email: $email) { id } }",
        {"limit": 2, "measured": 3},
    ),
    "TOO_MANY_TOKENS": (
        "query($email: String!) { customerByEmail(email: $email) { "
        + "id " * 250
        + "profile { name } } }",
        {"limit": 200},
    ),
    "FIRST_TOO_LARGE": (
        "query($email: String!) { customerByEmail(email: $email) "
        "{ billing { invoices(first: 500) { id } } } }",
        {"limit": 100, "measured": 500, "path": "customerByEmail.billing.invoices"},
    ),
    "QUERY_TOO_COSTLY": (
        # 1 + billing 11 + invoices 10 + 100 x invoice 1
        "query($email: String!) { customerByEmail(email: $email) "
        "{ billing { invoices(first: 100) { id } } } }",
        {"limit": 60, "measured": 122},
    ),
    "INTROSPECTION_DISABLED": ("{ __schema { queryType { name } } }", {"limit": 0}),
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Limited:
    """A running gateway of this module's own."""

    stack: Stack
    url: str
    clock: Clock
    settings: Settings

    def token(self, subject: str, role: str = "agent") -> str:
        return mint_token(self.stack.keys, self.settings.auth, subject=subject, role=role)

    async def post(self, body: dict[str, Any], subject: str = "agent-limits") -> httpx.Response:
        return await self.stack.http.post(
            f"{self.url}/graphql",
            json=body,
            headers={"Authorization": f"Bearer {self.token(subject)}"},
        )

    async def query(
        self, document: str, subject: str = "agent-limits", **variables: Any
    ) -> dict[str, Any]:
        response = await self.post({"query": document, "variables": variables}, subject)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


async def sandbox_calls(stack: Stack) -> int:
    total = 0
    for system in SYSTEMS:
        total += sum((await stack.stats(system))["requests"].values())
    return total


async def audit_rows(settings: Settings) -> int:
    assert settings.database_url is not None
    connection = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        count: int = await connection.fetchval("select count(*) from audit_trail")
    finally:
        await connection.close()
    return count


async def start(stack: Stack, settings: Settings, clock: Clock) -> AsyncIterator[Limited]:
    server, task, port = await serve(create_app(settings, cost_budget=LocalCostBudget(clock=clock)))
    try:
        yield Limited(stack=stack, url=f"http://127.0.0.1:{port}", clock=clock, settings=settings)
    finally:
        await stop(server, task)


@pytest.fixture(scope="module")
async def limited(stack: Stack) -> AsyncIterator[Limited]:
    settings = stack.settings.model_copy(update={"limits": LIMITS})
    async for running in start(stack, settings, Clock()):
        yield running


@pytest.fixture(scope="module")
async def allow_listed(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Limited]:
    manifest = tmp_path_factory.mktemp("desktop") / "operations.json"
    manifest.write_text(json.dumps({sha256_of(VIEW): VIEW}))
    settings = stack.settings.model_copy(
        update={"persisted_queries": PersistedQuerySettings(mode="allow_list", manifest=manifest)}
    )
    async for running in start(stack, settings, Clock()):
        yield running


@pytest.mark.parametrize("code", sorted(REFUSED))
async def test_each_limit_refuses_with_its_code_before_anything_executes(
    limited: Limited, code: str
) -> None:
    document, expected = REFUSED[code]
    await limited.stack.reset_sandbox()
    rows = await audit_rows(limited.settings)
    answer = await limited.query(document, email=ADA)
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"] == {"code": code, **expected}
    assert await sandbox_calls(limited.stack) == 0
    assert await audit_rows(limited.settings) == rows


async def test_a_query_within_the_limits_runs(limited: Limited) -> None:
    answer = await limited.query(VIEW, subject="agent-within", email=ADA)
    assert "errors" not in answer, answer
    assert answer["data"]["customerByEmail"]["profile"]["name"]


async def test_a_spent_budget_is_rate_limited_and_recovers_as_it_refills(
    limited: Limited,
) -> None:
    subject = "agent-budget"
    for _ in range(2):
        assert "errors" not in await limited.query(VIEW, subject=subject, email=ADA)
    await limited.stack.reset_sandbox()
    answer = await limited.query(VIEW, subject=subject, email=ADA)
    # 32 left of 100 a minute; 34 needed: 2 more refill in 1.2 seconds.
    assert answer["errors"][0]["extensions"] == {
        "code": "RATE_LIMITED",
        "limit": 100,
        "measured": VIEW_COST,
        "retryAfter": 2,
    }
    assert await sandbox_calls(limited.stack) == 0
    limited.clock.now += 2
    assert "errors" not in await limited.query(VIEW, subject=subject, email=ADA)


async def test_a_body_over_the_limit_is_refused_with_413(limited: Limited) -> None:
    response = await limited.post({"query": VIEW, "variables": {"email": "x" * 5000}})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {
        "code": "REQUEST_TOO_LARGE",
        "limit": 4096,
    }


async def test_a_chunked_body_over_the_limit_is_refused_with_413(limited: Limited) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await limited.stack.http.post(
        f"{limited.url}/graphql",
        content=chunks(),
        headers={
            "Authorization": f"Bearer {limited.token('agent-chunked')}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 413


async def test_apq_misses_then_registers_then_runs_the_hash_alone(limited: Limited) -> None:
    subject = "agent-apq"
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": sha256_of(VIEW)}}
    variables = {"email": ADA}
    await limited.stack.reset_sandbox()
    miss = (await limited.post({"extensions": hashed, "variables": variables}, subject)).json()
    assert miss["errors"] == [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
    assert await sandbox_calls(limited.stack) == 0
    registered = await limited.post(
        {"query": VIEW, "extensions": hashed, "variables": variables}, subject
    )
    assert "errors" not in registered.json()
    hit = (await limited.post({"extensions": hashed, "variables": variables}, subject)).json()
    assert "errors" not in hit
    assert hit["data"] == registered.json()["data"]


async def test_a_query_that_is_not_its_hash_is_refused(limited: Limited) -> None:
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": sha256_of("{ other }")}}
    answer = (await limited.post({"query": VIEW, "extensions": hashed})).json()
    assert answer["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_the_allow_list_runs_its_documents(allow_listed: Limited) -> None:
    answer = await allow_listed.query(VIEW, email=ADA)
    assert "errors" not in answer, answer


async def test_the_allow_list_refuses_anything_else_before_it_executes(
    allow_listed: Limited,
) -> None:
    await allow_listed.stack.reset_sandbox()
    rows = await audit_rows(allow_listed.settings)
    document = "query($email: String!) { customerByEmail(email: $email) { profile { name } } }"
    answer = await allow_listed.query(document, email=ADA)
    assert answer["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}
    assert answer["data"] is None
    assert await sandbox_calls(allow_listed.stack) == 0
    assert await audit_rows(allow_listed.settings) == rows


async def test_suggestions_are_hidden_when_introspection_is_off(limited: Limited) -> None:
    answer = await limited.query("query($email: String!) { customerByEmai(email: $email) { id } }")
    assert "Did you mean" not in answer["errors"][0]["message"]


async def test_graphiql_is_not_served_when_it_is_off(limited: Limited) -> None:
    response = await limited.stack.http.get(
        f"{limited.url}/graphql", headers={"Accept": "text/html"}
    )
    assert response.status_code == 401
    assert "graphiql" not in response.text.lower()


async def test_refusals_are_counted_by_code_in_the_metrics(limited: Limited) -> None:
    document, _ = REFUSED["QUERY_TOO_DEEP"]
    await limited.query(document, email=ADA)
    metrics = (await limited.stack.http.get(f"{limited.url}/metrics")).text
    assert 'scv_graphql_refused_total{code="QUERY_TOO_DEEP"}' in metrics


async def test_a_document_that_does_not_run_is_never_registered(limited: Limited) -> None:
    broken = "query { customerByEmail { nope } }"
    hashed = {"persistedQuery": {"version": 1, "sha256Hash": sha256_of(broken)}}
    refused = (await limited.post({"query": broken, "extensions": hashed})).json()
    assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    miss = (await limited.post({"extensions": hashed})).json()
    assert miss["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
