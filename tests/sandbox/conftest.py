"""Fixtures of the sandbox tests: one shared dataset, a fresh app (fresh faults and stats)
per test, and one authenticated client per system, all in-process over ASGI."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from sandbox.data.generate import generate_dataset
from sandbox.records import Dataset
from sandbox.server import Sandbox, create_sandbox_app

#: Enough generated people for several pages of every listing, few enough to stay fast.
TEST_CUSTOMERS = 300

AUTH_HEADERS = {
    "billing": {"Authorization": "Bearer sk_test_scv_sandbox"},
    "crm": {"Authorization": "Bearer pat-sandbox-crm"},
    "support": {"Authorization": "Bearer zd-sandbox-token"},
    "ivr": {"x-api-key": "ivr-sandbox-key"},
}


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """Generated once: the endpoints under test only read it."""
    return generate_dataset(seed=42, customers=TEST_CUSTOMERS)


@pytest.fixture
def app(dataset: Dataset) -> Starlette:
    return create_sandbox_app(dataset=dataset)


@pytest.fixture
def sandbox(app: Starlette) -> Sandbox:
    state = app.state.sandbox
    assert isinstance(state, Sandbox)
    return state


def make_client(app: Starlette, system: str, *, authenticated: bool = True) -> httpx.AsyncClient:
    """A client whose base URL is ``system``'s, with its API key unless told otherwise."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://sandbox.test/{system}",
        headers=AUTH_HEADERS[system] if authenticated else None,
    )


@pytest.fixture
async def billing(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "billing") as client:
        yield client


@pytest.fixture
async def crm(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "crm") as client:
        yield client


@pytest.fixture
async def support(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "support") as client:
        yield client


@pytest.fixture
async def ivr(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, "ivr") as client:
        yield client


@pytest.fixture
def client_for(app: Starlette) -> Callable[..., httpx.AsyncClient]:
    """``client_for("crm")`` or ``client_for("crm", authenticated=False)``: a client of the
    test's app, to be used as ``async with``."""
    return functools.partial(make_client, app)
