"""The sandbox-system registry: every system declared once in its folder, started by the
sandbox and pointed at by the gateway's environment without anything naming it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from adapters.connection import Connection
from adapters.orders.port import OrdersCustomerRef
from adapters.registry import SOURCES, spec_of
from app.settings import Settings
from kernel.models import Source
from sandbox.entry import SandboxServers
from sandbox.records import Dataset
from sandbox.registry import HTTP_SYSTEMS, SANDBOX_SYSTEMS, gateway_environment
from sandbox.server import announcer, prepare_systems

ADA_REF = OrdersCustomerRef("020 7946 0018")


def test_every_source_of_the_gateway_has_a_sandbox_system_of_its_name() -> None:
    names = [system.name for system in SANDBOX_SYSTEMS]

    assert len(set(names)) == len(names)
    assert set(names) == {spec.name for spec in SOURCES}


async def test_every_http_system_is_served_under_its_name(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        index = (await client.get("/")).json()
        answers = {name: await client.get(f"/{name}/openapi.json") for name in HTTP_SYSTEMS}

    assert set(index["systems"]) == set(HTTP_SYSTEMS)
    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(
        HTTP_SYSTEMS, 200
    )


def test_the_gateway_is_pointed_at_every_http_system_by_its_base_url() -> None:
    environment = gateway_environment("http://127.0.0.1:9", SandboxServers())

    for name in HTTP_SYSTEMS:
        assert environment[f"SCV_{name.upper()}__BASE_URL"] == f"http://127.0.0.1:9/{name}"
    # Given nowhere to create a database, a system kept in one points the gateway nowhere.
    assert not any(key.startswith("SCV_ORDERS__") for key in environment)


async def test_with_nothing_given_no_system_is_created(
    dataset: Dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    await prepare_systems(dataset, SandboxServers())

    assert capsys.readouterr().out == ""


async def test_a_system_kept_as_a_file_is_made_there_and_the_gateway_reads_it(
    dataset: Dataset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    servers = SandboxServers(files_dir=tmp_path)

    await prepare_systems(dataset, servers)
    for key, value in gateway_environment("http://127.0.0.1:9", servers).items():
        monkeypatch.setenv(key, value)
    section = Settings().source(Source.ORDERS)
    async with spec_of(Source.ORDERS).connect(section, Connection()) as adapter:
        ada = await adapter.list_orders(ADA_REF)  # type: ignore[attr-defined]

    assert "orders in" in capsys.readouterr().out
    assert sorted(order.status.value for order in ada.items) == ["BACKORDERED", "SHIPPED"]


def test_once_serving_the_sandbox_prints_the_gateway_s_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    urls = {name: f"http://127.0.0.1:9/{name}" for name in HTTP_SYSTEMS}

    announcer(SandboxServers(database_url="postgresql://admin@db:5432/postgres"))(urls)

    out = capsys.readouterr().out
    assert "billing  http://127.0.0.1:9/billing" in out
    assert "  SCV_CRM__BASE_URL=http://127.0.0.1:9/crm" in out
    assert "  SCV_ORDERS__URL=postgresql+asyncpg://scv_orders_reader:" in out
