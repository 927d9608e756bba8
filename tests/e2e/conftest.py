"""The whole stack over loopback: sandbox systems, a real PostgreSQL, a sync, the gateway.

Both servers run in the test session's event loop under uvicorn on ephemeral ports, so every
call between gateway and sandbox is real HTTP, as it would be in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from app.cli.environment import with_sandbox_port
from app.main import create_app
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.settings import Settings
from sandbox.orders.postgres import create_legacy_database
from sandbox.server import create_sandbox_app
from sandbox.webhooks import DeliveryPolicy
from tests.conftest import scratch_database
from tests.e2e.harness import Stack, serve, stop, sync_store
from tests.e2e.live_kit import LiveStack
from tests.e2e.resilience_harness import for_shared_stack


@pytest.fixture(scope="session")
async def stack(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    sandbox_app = create_sandbox_app(seed=42, customers=300)
    sandbox_server, sandbox_task, sandbox_port = await serve(sandbox_app)
    # The legacy orders database: its own database on the session's PostgreSQL server.
    await create_legacy_database(database_url, sandbox_app.state.sandbox.dataset)
    data_dir: Path = tmp_path_factory.mktemp("scv")
    async with scratch_database(database_url, "e2e") as url:
        # Breakers and retries off: one test's injected fault must not leave a breaker open,
        # or a fetch retrying, for the next (test_breaker.py and test_fault_matrix.py run
        # gateways of their own for those).
        settings = for_shared_stack(
            with_sandbox_port(
                Settings(demo=True, data_dir=data_dir, database_url=SecretStr(url)),
                sandbox_port,
                database_url=database_url,
            )
        )
        report = await sync_store(settings)
        gateway = create_app(settings)
        gateway_server, gateway_task, gateway_port = await serve(gateway)
        keys = ensure_demo_keys(data_dir)
        async with httpx.AsyncClient(timeout=10.0) as http:
            yield Stack(
                settings=settings,
                sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                gateway_url=f"http://127.0.0.1:{gateway_port}",
                keys=keys,
                token=mint_token(keys, settings.auth, subject="agent-1", role="agent"),
                sync_report=report,
                http=http,
                gateway=gateway,
            )
        await stop(gateway_server, gateway_task)
    await stop(sandbox_server, sandbox_task)


@pytest.fixture
async def clean_sandbox(stack: Stack) -> AsyncIterator[Stack]:
    """The stack with no sandbox faults and zeroed request counts, before and after.

    The gateway's cache is emptied too: tests that count upstream calls, or fault a system,
    mean the calls a query makes when nothing is cached (a cached value would be a HIT, or
    served stale instead of the fault).
    """
    await stack.reset_sandbox()
    await stack.clear_gateway_cache()
    yield stack
    await stack.reset_sandbox()
    await stack.clear_gateway_cache()


@pytest.fixture
async def live_stack(database_url: str, tmp_path: Path) -> AsyncIterator[LiveStack]:
    sandbox_server, sandbox_task, sandbox_port = await serve(
        create_sandbox_app(
            seed=42,
            customers=0,
            webhook_policy=DeliveryPolicy(attempts=5, wait_initial=0.05, wait_max=0.5),
        )
    )
    async with scratch_database(database_url, "e2e_live") as url:
        settings = with_sandbox_port(
            Settings(demo=True, data_dir=tmp_path, database_url=SecretStr(url)), sandbox_port
        )
        await sync_store(settings)
        server_a, task_a, port_a = await serve(create_app(settings))
        server_b, task_b, port_b = await serve(create_app(settings))
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                stack = LiveStack(
                    sandbox_url=f"http://127.0.0.1:{sandbox_port}",
                    gateway_a=f"http://127.0.0.1:{port_a}",
                    gateway_b=f"http://127.0.0.1:{port_b}",
                    settings=settings,
                    keys=ensure_demo_keys(tmp_path),
                    http=http,
                )
                hooks = await http.post(
                    f"{stack.sandbox_url}/_sandbox/webhooks",
                    json={"url": f"{stack.gateway_a}/webhooks"},
                )
                assert hooks.status_code == 200
                yield stack
        finally:
            await stop(server_b, task_b)
            await stop(server_a, task_a)
            await stop(sandbox_server, sandbox_task)
