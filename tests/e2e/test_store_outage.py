"""PostgreSQL down: the fields that need the store say STORE_UNAVAILABLE, not a defect.

A gateway of its own reaches the e2e database through a switch (``store_switch.py``) that
the test turns off and on again: real connections, really cut.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from app.main import create_app
from app.security.demo_keys import mint_token
from tests.e2e.harness import Stack, serve, stop
from tests.e2e.store_switch import StoreSwitch

pytestmark = pytest.mark.e2e

BY_EMAIL = """query($e: String!) { customerByEmail(email: $e) {
  id billing { delinquent } support { openTicketCount } } }"""
ADA = "ada.lovelace@example.com"


@pytest.fixture
async def switched(stack: Stack) -> AsyncIterator[tuple[Stack, StoreSwitch, str]]:
    assert stack.settings.database_url is not None
    switch = StoreSwitch(stack.settings.database_url.get_secret_value())
    await switch.up()
    settings = stack.settings.model_copy(update={"database_url": SecretStr(switch.url())})
    server, task, port = await serve(create_app(settings))
    try:
        yield stack, switch, f"http://127.0.0.1:{port}"
    finally:
        await stop(server, task)
        await switch.down()


async def ask(stack: Stack, gateway: str) -> dict[str, object]:
    response = await stack.http.post(
        f"{gateway}/graphql",
        json={"query": BY_EMAIL, "variables": {"e": ADA}},
        headers={"Authorization": f"Bearer {stack.token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_with_the_store_down_a_lookup_says_store_unavailable(
    switched: tuple[Stack, StoreSwitch, str],
) -> None:
    stack, switch, gateway = switched
    assert "errors" not in await ask(stack, gateway)
    await switch.down()
    body = await ask(stack, gateway)
    assert body["data"] == {"customerByEmail": None}
    [error] = body["errors"]  # type: ignore[misc]
    assert error["extensions"] == {"code": "STORE_UNAVAILABLE", "retryable": True}
    assert error["path"] == ["customerByEmail"]


async def test_the_store_back_the_same_lookup_is_served_again(
    switched: tuple[Stack, StoreSwitch, str],
) -> None:
    stack, switch, gateway = switched
    await switch.down()
    await ask(stack, gateway)
    await switch.up()
    body = await ask(stack, gateway)
    assert "errors" not in body


async def test_with_the_store_down_a_handoff_is_refused_as_store_unavailable(
    switched: tuple[Stack, StoreSwitch, str],
) -> None:
    stack, switch, gateway = switched
    played = await stack.http.post(
        f"{stack.sandbox_url}/ivr/_sandbox/calls", json={"customer": "ada"}
    )
    await switch.down()
    ivr = mint_token(stack.keys, stack.settings.auth, subject="ivr-sandbox", role="ivr")
    response = await stack.http.post(
        f"{gateway}/ivr/handoffs",
        json={"handoff": played.json()["handoff"]},
        headers={"Authorization": f"Bearer {ivr}"},
    )
    assert response.status_code == 503
    assert response.json()["errors"][0]["extensions"]["code"] == "STORE_UNAVAILABLE"
