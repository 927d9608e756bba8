"""Without a valid bearer token nothing executes: 401, a JSON reason, no upstream call."""

from __future__ import annotations

import pytest

from app.security.demo_keys import mint_token
from tests.e2e.harness import Stack

pytestmark = pytest.mark.e2e

QUERY = '{ customerByEmail(email: "ada.lovelace@example.com") { billing { delinquent } } }'


async def upstream_calls(stack: Stack) -> int:
    total = 0
    for system in ("billing", "crm", "support", "ivr"):
        total += sum((await stack.stats(system))["requests"].values())
    return total


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": "Basic YWdlbnQ6cGFzcw=="},
    ],
    ids=["missing", "garbage", "basic"],
)
async def test_a_request_without_a_valid_token_gets_401_and_runs_nothing(
    clean_sandbox: Stack, headers: dict[str, str]
) -> None:
    response = await clean_sandbox.http.post(
        f"{clean_sandbox.gateway_url}/graphql", json={"query": QUERY}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await upstream_calls(clean_sandbox) == 0


async def test_an_expired_token_gets_401(clean_sandbox: Stack) -> None:
    token = mint_token(
        clean_sandbox.keys, clean_sandbox.settings.auth, subject="a", role="agent", ttl_seconds=-120
    )
    response = await clean_sandbox.query(QUERY, token=token)
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "token expired"
    assert await upstream_calls(clean_sandbox) == 0


async def test_a_valid_token_is_served(clean_sandbox: Stack) -> None:
    response = await clean_sandbox.query(QUERY)
    assert response.status_code == 200
    assert response.json()["data"]["customerByEmail"]["billing"]["delinquent"] is False
