"""Every fault of every source costs only that source's panel, end to end over real HTTP.

For each source (billing, CRM, support) and each fault the sandbox can inject (latency beyond
the timeout, 500, 503, 429 with Retry-After, a hanging request, malformed JSON, a payload of
the wrong shape) and a refused connection: the answer is HTTP 200, the failed panel is null
with one error naming its source and code, the other panels are served, and nothing of the
upstream (host, URL, key) or of the gateway's insides (a stack trace) shows.

The gateway under test has a 1 s deadline and 0.3 s read timeouts, so that a slow or silent
source resolves quickly; the time each answer took is printed (run with ``-s`` to see it),
never asserted: a request that completes with UPSTREAM_TIMEOUT is the deadline at work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Stack
from tests.e2e.resilience_harness import (
    PANEL_OF,
    PANEL_SOURCES,
    Gateway,
    closed_port,
    fast_failing,
    fully_linked_customers,
    gateway,
)

pytestmark = pytest.mark.e2e

#: Fault name -> (sandbox faults, the code the failed panel must carry).
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "latency-beyond-timeout": ({"latency_ms": 800}, "UPSTREAM_TIMEOUT"),
    "http-500": ({"error_rate": 1.0, "error_status": 500}, "UPSTREAM_UNAVAILABLE"),
    "http-503": ({"error_rate": 1.0, "error_status": 503}, "UPSTREAM_UNAVAILABLE"),
    "429-retry-after": ({"rate_limit_retry_after": 1}, "UPSTREAM_RATE_LIMITED"),
    "hanging-request": ({"hang": True}, "UPSTREAM_TIMEOUT"),
    "malformed-json": ({"malformed_json": True}, "UPSTREAM_CONTRACT"),
    "shape-violation": ({"contract": True}, "UPSTREAM_CONTRACT"),
}
RETRYABLE = {
    "UPSTREAM_TIMEOUT": True,
    "UPSTREAM_UNAVAILABLE": True,
    "UPSTREAM_RATE_LIMITED": True,
    "UPSTREAM_CONTRACT": False,
}
#: Enough distinct customers that no case reads a panel another case fetched.
CUSTOMERS_NEEDED = len(PANEL_SOURCES) * (len(FAULTS) + 1) + 4


@pytest.fixture(scope="module")
async def customer_pool(stack: Stack) -> list[str]:
    return await fully_linked_customers(stack, CUSTOMERS_NEEDED)


@pytest.fixture(scope="module")
async def fault_gateway(stack: Stack) -> AsyncIterator[Gateway]:
    async with gateway(stack, fast_failing(stack.settings)) as running:
        yield running


def assert_only_panel_failed(
    response: httpx.Response, stack: Stack, system: str, code: str
) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    customer = body["data"]["customer"]
    failed_panel = PANEL_OF[system]
    assert customer[failed_panel] is None
    for other in PANEL_SOURCES:
        if other != system:
            assert customer[PANEL_OF[other]] is not None, other
    [error] = body["errors"]
    assert error["path"][:2] == ["customer", failed_panel]
    assert error["extensions"] == {
        "code": code,
        "source": system.upper(),
        "retryable": RETRYABLE[code],
    }
    text = response.text
    for secret in (
        "127.0.0.1",
        "http://",
        "Traceback",
        *(getattr(stack.settings, s).api_key.get_secret_value() for s in PANEL_SOURCES),
    ):
        assert secret not in text, secret


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("system", PANEL_SOURCES)
async def test_a_faulty_source_costs_only_its_own_panel(
    clean_sandbox: Stack,
    fault_gateway: Gateway,
    customer_pool: list[str],
    system: str,
    fault: str,
) -> None:
    faults, code = FAULTS[fault]
    await clean_sandbox.set_faults(system, **faults)
    response, seconds = await fault_gateway.panels(customer_pool.pop())
    print(f"\nfault matrix: {system:8} {fault:24} {code:22} answered in {seconds * 1000:.0f} ms")
    assert_only_panel_failed(response, clean_sandbox, system, code)


@pytest.mark.parametrize("system", PANEL_SOURCES)
async def test_a_source_refusing_connections_costs_only_its_own_panel(
    clean_sandbox: Stack, customer_pool: list[str], system: str
) -> None:
    refused = {system: f"http://127.0.0.1:{closed_port()}/{system}"}
    async with gateway(
        clean_sandbox, fast_failing(clean_sandbox.settings, base_urls=refused)
    ) as gw:
        response, seconds = await gw.panels(customer_pool.pop())
    code = "UPSTREAM_UNAVAILABLE"
    print(
        f"\nfault matrix: {system:8} {'connection-refused':24} {code:22} in {seconds * 1000:.0f} ms"
    )
    assert_only_panel_failed(response, clean_sandbox, system, code)


async def test_a_retry_after_that_fits_the_deadline_is_waited_and_retried(
    clean_sandbox: Stack, fault_gateway: Gateway, customer_pool: list[str]
) -> None:
    await clean_sandbox.set_faults("billing", rate_limit_retry_after=0)
    response, _ = await fault_gateway.panels(customer_pool.pop())
    assert_only_panel_failed(response, clean_sandbox, "billing", "UPSTREAM_RATE_LIMITED")
    # The first attempt and both retries reached the source.
    assert (await clean_sandbox.stats("billing"))["requests"] == {"GET /v1/customers/{id}": 3}


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    clean_sandbox: Stack, fault_gateway: Gateway, customer_pool: list[str]
) -> None:
    # Retry-After: 1 s cannot fit in what is left of a 1 s deadline.
    await clean_sandbox.set_faults("billing", rate_limit_retry_after=1)
    response, _ = await fault_gateway.panels(customer_pool.pop())
    assert_only_panel_failed(response, clean_sandbox, "billing", "UPSTREAM_RATE_LIMITED")
    assert (await clean_sandbox.stats("billing"))["requests"] == {"GET /v1/customers/{id}": 1}


async def test_an_unavailable_read_is_retried_twice_then_given_up(
    clean_sandbox: Stack, fault_gateway: Gateway, customer_pool: list[str]
) -> None:
    await clean_sandbox.set_faults("support", error_rate=1.0, error_status=503)
    response, _ = await fault_gateway.panels(customer_pool.pop())
    assert_only_panel_failed(response, clean_sandbox, "support", "UPSTREAM_UNAVAILABLE")
    requests = (await clean_sandbox.stats("support"))["requests"]
    assert requests == {"GET /api/v2/users/{id}/tickets/requested": 3}
    assert 'scv_upstream_retries_total{reason="UPSTREAM_UNAVAILABLE",source="SUPPORT"}' in (
        await fault_gateway.metrics()
    )
