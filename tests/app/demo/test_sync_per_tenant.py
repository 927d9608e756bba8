"""``scv sync --tenant NAME``: each tenant's sync links its own customers, from its own
accounts and cursors; the same person synced for two tenants is two customers."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.cli.environment import with_sandbox_port
from app.demo.runner import run_sync
from app.demo.sandbox_tenants import with_sandbox_tenants
from app.settings import Settings
from app.store.customers import Store
from kernel.tenancy import TenantId
from sandbox.accounts import tenants_environment
from sandbox.server import create_sandbox_app
from tests.conftest import scratch_database
from tests.e2e.harness import serve, stop

ACME, GLOBEX = TenantId("acme"), TenantId("globex")
ADA = "ada.lovelace@example.com"
GRACE = "grace.hopper@example.com"
HEDY = "hedy.lamarr@example.com"


async def test_each_tenants_sync_links_its_own_customers(database_url: str, tmp_path: Path) -> None:
    server, task, port = await serve(create_sandbox_app(seed=5, customers=10))
    try:
        async with scratch_database(database_url, "tenant_sync") as url:
            settings = with_sandbox_tenants(
                with_sandbox_port(
                    Settings(demo=True, data_dir=tmp_path, database_url=SecretStr(url)), port
                ),
                tenants_environment(f"http://127.0.0.1:{port}"),
            )
            with contextlib.redirect_stdout(io.StringIO()):
                await run_sync(settings, identity_only=True)
            store = await Store.connect(url, pool_size=2)
            try:
                acme, globex = store.for_tenant(ACME), store.for_tenant(GLOBEX)
                assert await globex.count_customers() == 0
                with contextlib.redirect_stdout(io.StringIO()):
                    await run_sync(settings, identity_only=True, tenant=GLOBEX)
                # Each from its own accounts: Ada is acme's only, Hedy globex's only.
                assert await acme.first_by_email(ADA) is not None
                assert await globex.first_by_email(ADA) is None
                assert await acme.first_by_email(HEDY) is None
                assert await globex.first_by_email(HEDY) is not None
                in_acme, in_globex = (
                    await acme.first_by_email(GRACE),
                    await globex.first_by_email(GRACE),
                )
                assert in_acme is not None
                assert in_globex is not None
                assert in_acme.id != in_globex.id
                assert await globex.count_customers() == 2
                assert (await globex.latest_sync_run()) is not None
            finally:
                await store.close()
    finally:
        await stop(server, task)


def test_sync_refuses_a_tenant_the_gateway_does_not_serve() -> None:
    from app.cli.commands import main

    with pytest.raises(SystemExit) as exited:
        main(["sync", "--tenant", "initech"])
    assert "serves no tenant 'initech'" in str(exited.value.code)
