"""The gateway serves with a PostgreSQL role that has no DDL rights (``app.store.roles``):
start-up, a sync, a whole customer, an IVR handoff and its audit, all as that role."""

from __future__ import annotations

import asyncpg
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.store.roles import grant_runtime_role, role_url
from tests.e2e.harness import Stack, serve, stop, sync_store

pytestmark = pytest.mark.e2e

ROLE = "scv_gateway_e2e"
PASSWORD = "least-privilege-e2e"

QUERY = """query($e: String!) { customerByEmail(email: $e) {
  id profile { name } billing { delinquent } support { openTicketCount } } }"""


async def test_the_gateway_runs_without_ddl_rights(stack: Stack) -> None:
    assert stack.settings.database_url is not None
    owner_url = stack.settings.database_url.get_secret_value()
    await grant_runtime_role(owner_url, ROLE, PASSWORD)
    runtime_url = role_url(owner_url, ROLE, PASSWORD)
    conn = await asyncpg.connect(runtime_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("create table intruder (id int)")
    finally:
        await conn.close()
    settings = stack.settings.model_copy(update={"database_url": SecretStr(runtime_url)})
    # An incremental sync as the run-time role (the store is up to date: no DDL).
    await sync_store(settings)
    gateway = create_app(settings)
    server, task, port = await serve(gateway)
    try:
        url = f"http://127.0.0.1:{port}"
        assert (await stack.http.get(f"{url}/readyz")).status_code == 200
        response = await stack.http.post(
            f"{url}/graphql",
            json={"query": QUERY, "variables": {"e": "ada.lovelace@example.com"}},
            headers={"Authorization": f"Bearer {stack.token}"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        assert body["data"]["customerByEmail"]["profile"]["name"]
    finally:
        await stop(server, task)
    # The audit entries of that request were written by the run-time role.
    conn = await asyncpg.connect(owner_url)
    try:
        assert await conn.fetchval("select count(*) from audit_trail where subject = 'agent-1'") > 0
    finally:
        await conn.close()
