"""The circuit breaker end to end: opens under a fault, sheds calls, probes, closes.

Calls the source did not receive are counted by the sandbox's own ``/_sandbox/stats``. The
gateway under test has a breaker that opens after three failures in a row and stays open
for two seconds; every wait here polls for a state, none sleeps and then asserts.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from adapters.settings import BreakerSettings, RetrySettings
from tests.e2e.harness import Stack
from tests.e2e.resilience_harness import Gateway, fast_failing, fully_linked_customers, gateway

pytestmark = pytest.mark.e2e

# Open long enough that the shedding checks finish well inside it, even on a busy machine.
BREAKER = BreakerSettings(consecutive_failures=3, open_seconds=2.0, half_open_probes=1)
CUSTOMER_ROUTE = "GET /v1/customers/{id}"
POLL_SECONDS = 0.02
POLL_LIMIT = 500


@pytest.fixture
async def breaker_gateway(clean_sandbox: Stack) -> AsyncIterator[Gateway]:
    settings = fast_failing(clean_sandbox.settings, breaker=BREAKER, retry=RetrySettings(retries=0))
    async with gateway(clean_sandbox, settings) as running:
        yield running


async def billing_code(gw: Gateway, customer_id: str) -> str | None:
    """The error code of the billing panel, or None when it was served."""
    response, _ = await gw.panels(customer_id)
    assert response.status_code == 200
    body = response.json()
    assert body["data"]["customer"]["profile"] is not None
    for error in body.get("errors", []):
        if error["extensions"]["source"] == "BILLING":
            return str(error["extensions"]["code"])
    assert body["data"]["customer"]["billing"] is not None
    return None


async def poll(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(POLL_LIMIT):
        if await condition():
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError("condition not reached")


async def breaker_state(gw: Gateway) -> str:
    body = await gw.readyz()
    assert body["status"] == "ready"
    return str(body["sources"]["BILLING"]["breaker"])


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def open_breaker(stack: Stack, gw: Gateway, customer_id: str) -> list[str | None]:
    """Fault billing and query until its breaker answers; the codes seen on the way."""
    await stack.set_faults("billing", error_rate=1.0, error_status=503)
    codes: list[str | None] = []
    for _ in range(10):
        codes.append(await billing_code(gw, customer_id))
        if codes[-1] == "CIRCUIT_OPEN":
            return codes
    raise AssertionError(f"the breaker never opened: {codes}")


async def test_the_breaker_opens_after_consecutive_failures_and_sheds_calls(
    clean_sandbox: Stack, breaker_gateway: Gateway
) -> None:
    [customer] = await fully_linked_customers(clean_sandbox, 1)
    codes = await open_breaker(clean_sandbox, breaker_gateway, customer)
    assert codes == ["UPSTREAM_UNAVAILABLE"] * 3 + ["CIRCUIT_OPEN"]
    assert (await clean_sandbox.stats("billing"))["requests"] == {CUSTOMER_ROUTE: 3}
    assert await breaker_state(breaker_gateway) == "open"

    await clean_sandbox.http.delete(f"{clean_sandbox.sandbox_url}/billing/_sandbox/stats")
    for _ in range(5):
        assert await billing_code(breaker_gateway, customer) == "CIRCUIT_OPEN"
    # Shed: not one of those calls reached billing; the other systems were asked as usual.
    assert (await clean_sandbox.stats("billing"))["requests"] == {}
    assert (await clean_sandbox.stats("crm"))["requests"]
    metrics = await breaker_gateway.metrics()
    assert sample(metrics, "scv_breaker_state", source="BILLING", state="open") == 1


async def test_a_failed_probe_reopens_the_breaker(
    clean_sandbox: Stack, breaker_gateway: Gateway
) -> None:
    [customer] = await fully_linked_customers(clean_sandbox, 1)
    await open_breaker(clean_sandbox, breaker_gateway, customer)
    await poll(lambda: _state_is(breaker_gateway, "half_open"))
    await clean_sandbox.http.delete(f"{clean_sandbox.sandbox_url}/billing/_sandbox/stats")

    assert await billing_code(breaker_gateway, customer) == "UPSTREAM_UNAVAILABLE"
    assert await breaker_state(breaker_gateway) == "open"
    assert (await clean_sandbox.stats("billing"))["requests"] == {CUSTOMER_ROUTE: 1}


async def test_the_breaker_half_opens_and_closes_once_the_fault_clears(
    clean_sandbox: Stack, breaker_gateway: Gateway
) -> None:
    [customer] = await fully_linked_customers(clean_sandbox, 1)
    await open_breaker(clean_sandbox, breaker_gateway, customer)
    await clean_sandbox.http.delete(f"{clean_sandbox.sandbox_url}/billing/_sandbox/faults")
    await poll(lambda: _state_is(breaker_gateway, "half_open"))

    assert await billing_code(breaker_gateway, customer) is None
    assert await breaker_state(breaker_gateway) == "closed"
    metrics = await breaker_gateway.metrics()
    for old, new in (("closed", "open"), ("open", "half_open"), ("half_open", "closed")):
        transitions = sample(
            metrics,
            "scv_breaker_transitions_total",
            source="BILLING",
            from_state=old,
            to_state=new,
        )
        assert transitions == 1, (old, new)


async def _state_is(gw: Gateway, state: str) -> bool:
    return await breaker_state(gw) == state


async def test_the_first_failing_request_after_a_start_reports_the_cause(
    clean_sandbox: Stack,
) -> None:
    # Retries on (three attempts) and a breaker that opens at the second failure: the
    # breaker opens inside the very first request, whose panel still tells the real cause.
    settings = fast_failing(
        clean_sandbox.settings,
        breaker=BreakerSettings(consecutive_failures=2, open_seconds=30.0),
    )
    [customer_id] = await fully_linked_customers(clean_sandbox, 1)
    async with gateway(clean_sandbox, settings) as fresh:
        await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
        assert await billing_code(fresh, customer_id) == "UPSTREAM_UNAVAILABLE"
        assert await breaker_state(fresh) == "open"
        assert await billing_code(fresh, customer_id) == "CIRCUIT_OPEN"
