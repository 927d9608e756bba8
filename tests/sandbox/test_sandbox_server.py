"""The sandbox app as a whole: the index, and serving over loopback with uvicorn."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.records import Dataset
from sandbox.server import build_sandbox_server, create_sandbox_app, system_urls


async def test_index_lists_each_system_base_url(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as client:
        response = await client.get("/")

    assert response.json() == {
        "systems": {
            "billing": "http://sandbox.test/billing",
            "crm": "http://sandbox.test/crm",
            "support": "http://sandbox.test/support",
            "ivr": "http://sandbox.test/ivr",
        }
    }


def test_system_urls_put_brackets_around_ipv6_hosts() -> None:
    assert system_urls("::1", 8100)["crm"] == "http://[::1]:8100/crm"


async def test_served_over_loopback_it_announces_urls_and_releases_hangs_on_exit(
    dataset: Dataset,
) -> None:
    announced: list[dict[str, str]] = []
    app = create_sandbox_app(dataset=dataset, hang=True, fault_systems=["crm"])
    server = build_sandbox_server(app, port=0, on_started=announced.append)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    assert server.started
    (urls,) = announced
    assert urls == server.urls

    async with httpx.AsyncClient(timeout=5) as client:
        billing = await client.get(
            f"{urls['billing']}/v1/customers/cus_ada",
            headers={"Authorization": "Bearer sk_test_scv_sandbox"},
        )
        hung = asyncio.create_task(
            client.get(
                f"{urls['crm']}/crm/v3/objects/contacts/1001",
                headers={"Authorization": "Bearer pat-sandbox-crm"},
            )
        )
        control = app.state.sandbox.controls["crm"]
        for _ in range(500):
            if control.in_flight:
                break
            await asyncio.sleep(0.01)
        server.should_exit = True
        released = await asyncio.wait_for(hung, timeout=5)
    await asyncio.wait_for(serving, timeout=5)

    assert billing.status_code == 200
    assert released.status_code == 200


def test_a_server_needs_an_app_from_the_factory() -> None:
    with pytest.raises(TypeError, match="create_sandbox_app"):
        build_sandbox_server(Starlette())
