"""The demo's second tenant: the sandbox's globex account, its settings read back."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from adapters.settings import HttpSourceSettings
from app.demo.runner import start_sandbox
from app.demo.sandbox_tenants import (
    SANDBOX_TENANTS_FILE,
    read_environment_file,
    with_demo_tenants,
    with_sandbox_tenants,
)
from app.settings import Settings
from kernel.models import Source
from kernel.tenancy import TenantId
from sandbox.accounts import tenants_environment

GLOBEX = TenantId("globex")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SCV_"):
            monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_sandbox_writes_its_tenants_settings_and_they_reach_globex_account(
    tmp_path: Path,
) -> None:
    written = tmp_path / SANDBOX_TENANTS_FILE
    sandbox = start_sandbox(free_port(), seed=1, customers=3, environment_file=written)
    try:
        settings = with_sandbox_tenants(Settings(), read_environment_file(written))
        billing = settings.tenant_source(GLOBEX, Source.BILLING)
        assert isinstance(billing, HttpSourceSettings)
        hedy = httpx.get(
            f"{billing.base_url}/v1/customers/cus_hedy",
            headers={"Authorization": f"Bearer {billing.api_key.get_secret_value()}"},
        )
        assert hedy.json()["email"] == "hedy.lamarr@example.com"
        # The sandbox is no vendor: the demo lifts its rate limits, globex's too.
        assert billing.rate_limit.per_second is None
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)


def test_scv_token_mints_for_the_demos_tenants_once_the_demo_wrote_them(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    assert with_demo_tenants(settings).tenancy.tenants == (TenantId("acme"),)
    lines = "".join(f"{k}={v}\n" for k, v in tenants_environment("http://127.0.0.1:9").items())
    (tmp_path / SANDBOX_TENANTS_FILE).write_text(lines)
    served = with_demo_tenants(settings)
    assert served.tenancy.tenants == (TenantId("acme"), GLOBEX)
    assert served.tenant_source(GLOBEX, Source.ORDERS) is None
