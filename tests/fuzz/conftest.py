"""A stack of its own for generated documents: sandbox, PostgreSQL, a sync, the gateway.

Not the e2e tests' shared stack: generated mutations link, unlink, end calls and start
exports with real customers' keys, and must not change what other tests read. Budgets are
off so that thousands of requests from one principal reach the resolvers rather than a
RATE_LIMITED refusal; every other limit stays as shipped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from app.cli.commands import with_sandbox_port
from app.cli.ivr_call import play_ivr_call
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop, sync_store
from tests.e2e.resilience_harness import for_shared_stack
from tests.fuzz.keys import NAMED_EMAILS, FuzzStack, Keys

CLAIM = "mutation($c: ID!) { claimInteraction(contactId: $c) { token } }"
IDS = "query($e: String!) { customerByEmail(email: $e) { id links { source externalId } } }"


@pytest.fixture(scope="session")
async def fuzz_stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(seed=7, customers=120)
    )
    data_dir: Path = tmp_path_factory.mktemp("scv_fuzz")
    async with scratch_database(database_url, "fuzz") as url:
        settings = for_shared_stack(
            with_sandbox_port(
                Settings(demo=True, data_dir=data_dir, database_url=SecretStr(url)), sandbox_port
            )
        )
        settings = settings.model_copy(
            update={"limits": settings.limits.model_copy(update={"budget_enabled": False})}
        )
        await sync_store(settings, with_facts=True)
        gateway_server, gateway_task, gateway_port = await serve(create_app(settings))
        keys = ensure_demo_keys(data_dir)

        def token(role: str) -> str:
            return mint_token(keys, settings.auth, subject=f"{role}-fuzz", role=role)

        gateway_url = f"http://127.0.0.1:{gateway_port}"
        async with httpx.AsyncClient(timeout=30.0) as http:
            agent = {"Authorization": f"Bearer {token('agent')}"}
            customer_ids: list[str] = []
            source_ids: list[str] = []
            for email in NAMED_EMAILS:
                found = await http.post(
                    f"{gateway_url}/graphql",
                    json={"query": IDS, "variables": {"e": email}},
                    headers=agent,
                )
                customer = found.json()["data"]["customerByEmail"]
                customer_ids.append(customer["id"])
                source_ids.extend(link["externalId"] for link in customer["links"])
            call = await play_ivr_call(
                http,
                ivr_url=f"http://127.0.0.1:{sandbox_port}/ivr",
                gateway_url=gateway_url,
                ivr_token=token("ivr"),
                call={"customer": "ada"},
            )
            claimed = await http.post(
                f"{gateway_url}/graphql",
                json={"query": CLAIM, "variables": {"c": call.contact_id}},
                headers=agent,
            )
            grant = claimed.json()["data"]["claimInteraction"]["token"]
            yield FuzzStack(
                http=http,
                graphql_url=f"{gateway_url}/graphql",
                tokens={role: token(role) for role in ("agent", "supervisor", "analyst", "ivr")},
                grant=grant,
                keys=Keys(
                    customer_ids=tuple(customer_ids),
                    source_ids=tuple(source_ids),
                    contact_ids=(call.contact_id, "contact-ada-0001"),
                ),
            )
        await stop(gateway_server, gateway_task)
    await stop(sandbox_server, sandbox_task)
