"""The response cache end to end: panel meta says MISS, HIT, STALE, over real HTTP.

Gateways of their own (a zero fresh lifetime; two sharing one Redis) run next to the
session's, on the same sandbox and database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from starlette.applications import Starlette

from adapters.billing.cached import BillingLifetimes
from adapters.crm.cached import CrmLifetimes
from adapters.settings import BreakerSettings, RetrySettings
from adapters.support.cached import SupportLifetimes
from app.cache.settings import CacheSettings
from app.main import create_app
from kernel.cache import Lifetime
from kernel.models import Source
from tests.e2e.harness import SYSTEMS, Stack, serve, stop
from tests.redis_server import EmbeddedRedis, configured_redis_url, shared_cache

PANELS_QUERY = """
query Panels($email: String!) {
  customerByEmail(email: $email) {
    profile { meta { source cache stale ageSeconds } }
    billing { meta { source cache stale ageSeconds } }
    support { meta { source cache stale ageSeconds } }
  }
}
"""
LINKS_QUERY = """
query Links($email: String!) {
  customerByEmail(email: $email) { links { source externalId } }
}
"""
ADA = "ada.lovelace@example.com"
PANELS = ("profile", "billing", "support")

Gateway = Callable[..., Awaitable[str]]


def metas(data: dict[str, Any]) -> list[dict[str, Any]]:
    customer = data["customerByEmail"]
    return [customer[panel]["meta"] for panel in PANELS]


async def panels(stack: Stack, gateway_url: str | None = None) -> list[dict[str, Any]]:
    url = gateway_url or stack.gateway_url
    response = await stack.http.post(
        f"{url}/graphql",
        json={"query": PANELS_QUERY, "variables": {"email": ADA}},
        headers={"Authorization": f"Bearer {stack.token}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return metas(body["data"])


async def upstream_calls(stack: Stack) -> int:
    total = 0
    for system in SYSTEMS:
        total += sum((await stack.stats(system))["requests"].values())
    return total


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[Gateway]:
    """Starts gateways with their own cache settings; stops them after the test."""
    running: list[tuple[Any, Any, Starlette]] = []

    async def start(cache: CacheSettings, **settings: Any) -> str:
        app = create_app(stack.settings.model_copy(update={"cache": cache, **settings}))
        server, task, port = await serve(app)
        running.append((server, task, app))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, task, _ in running:
        await stop(server, task)


@pytest.fixture
def shared_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis for this test's gateways to share: ``SCV_TEST_REDIS_URL``, or embedded."""
    configured = configured_redis_url()
    if configured is not None:
        yield configured
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("e2e-redis"))
    yield server.url
    server.stop()


async def test_a_first_view_is_a_miss_and_a_repeat_is_a_hit_without_upstream_calls(
    clean_sandbox: Stack,
) -> None:
    first = await panels(clean_sandbox)
    await clean_sandbox.reset_sandbox()
    second = await panels(clean_sandbox)
    assert [(m["cache"], m["stale"]) for m in first] == [("MISS", False)] * 3
    assert [(m["cache"], m["stale"]) for m in second] == [("HIT", False)] * 3
    assert await upstream_calls(clean_sandbox) == 0


async def test_past_the_fresh_lifetime_a_panel_is_stale_with_its_age(
    clean_sandbox: Stack, gateway: Gateway
) -> None:
    always_stale = Lifetime(fresh_seconds=0, stale_seconds=600)
    url = await gateway(
        CacheSettings(
            billing=BillingLifetimes(customer=always_stale),
            crm=CrmLifetimes(contact=always_stale),
            support=SupportLifetimes(tickets=always_stale),
        )
    )
    first = await panels(clean_sandbox, url)
    second = await panels(clean_sandbox, url)
    assert [m["cache"] for m in first] == ["MISS"] * 3
    assert [(m["cache"], m["stale"]) for m in second] == [("STALE", True)] * 3
    assert all(m["ageSeconds"] > 0 for m in second)


async def test_a_stale_value_is_served_while_the_breaker_is_open(
    clean_sandbox: Stack, gateway: Gateway
) -> None:
    # Every read of the billing customer goes to billing; one failure opens its breaker.
    billing = clean_sandbox.settings.billing.model_copy(
        update={
            "breaker": BreakerSettings(consecutive_failures=1, open_seconds=600),
            "retry": RetrySettings(retries=0),
        }
    )
    url = await gateway(
        CacheSettings(
            billing=BillingLifetimes(customer=Lifetime(fresh_seconds=0, stale_seconds=0))
        ),
        billing=billing,
    )
    await panels(clean_sandbox, url)
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    await panels(clean_sandbox, url)  # fails upstream: the breaker opens
    await clean_sandbox.reset_sandbox()
    await clean_sandbox.set_faults("billing", error_rate=1.0, error_status=503)
    while_open = await panels(clean_sandbox, url)
    billing_meta = while_open[PANELS.index("billing")]
    assert (billing_meta["cache"], billing_meta["stale"]) == ("STALE", True)
    assert (await clean_sandbox.stats("billing"))["requests"] == {}  # shed, not called


async def test_two_gateways_sharing_redis_share_fetches_and_invalidations(
    clean_sandbox: Stack, gateway: Gateway, shared_redis_url: str
) -> None:
    shared = shared_cache(shared_redis_url)
    first_url, second_url = await gateway(shared), await gateway(shared)
    await panels(clean_sandbox, first_url)
    await clean_sandbox.reset_sandbox()
    from_second = await panels(clean_sandbox, second_url)
    assert [m["cache"] for m in from_second] == ["HIT"] * 3
    assert await upstream_calls(clean_sandbox) == 0


async def test_an_invalidation_through_one_gateway_is_seen_by_the_other(
    clean_sandbox: Stack, shared_redis_url: str
) -> None:
    shared = shared_cache(shared_redis_url)
    apps = [create_app(clean_sandbox.settings.model_copy(update={"cache": shared}))]
    apps.append(create_app(clean_sandbox.settings.model_copy(update={"cache": shared})))
    servers = [await serve(app) for app in apps]
    try:
        first_url, second_url = (f"http://127.0.0.1:{port}" for _, _, port in servers)
        await panels(clean_sandbox, first_url)
        await panels(clean_sandbox, second_url)
        billing_id = billing_id_of(await links(clean_sandbox))
        await apps[0].state.cache.invalidate_record(Source.BILLING, billing_id)
        await apps[1].state.cache.tier.invalidation_arrived.wait()
        after = await panels(clean_sandbox, second_url)
    finally:
        for server, task, _ in servers:
            await stop(server, task)
    assert [m["cache"] for m in after] == ["HIT", "MISS", "HIT"]


async def links(stack: Stack) -> list[dict[str, Any]]:
    data = await stack.data(LINKS_QUERY, email=ADA)
    result: list[dict[str, Any]] = data["customerByEmail"]["links"]
    return result


def billing_id_of(found: list[dict[str, Any]]) -> str:
    [billing] = [link["externalId"] for link in found if link["source"] == "BILLING"]
    return str(billing)


BILLING_QUERY = """
query Billing($email: String!) {
  customerByEmail(email: $email) { billing { meta { cache stale fetchedAt } } }
}
"""


async def billing_meta(stack: Stack, url: str) -> dict[str, Any]:
    response = await stack.http.post(
        f"{url}/graphql",
        json={"query": BILLING_QUERY, "variables": {"email": ADA}},
        headers={"Authorization": f"Bearer {stack.token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    meta: dict[str, Any] = body["data"]["customerByEmail"]["billing"]["meta"]
    return meta


async def test_a_hanging_system_costs_an_agent_a_stale_panel_which_its_fetch_then_refreshes(
    clean_sandbox: Stack,
) -> None:
    # Billing's customer is due for a fetch on every read; the agent's budget is the default.
    cache = CacheSettings(
        billing=BillingLifetimes(customer=Lifetime(fresh_seconds=0, stale_seconds=0))
    )
    app = create_app(clean_sandbox.settings.model_copy(update={"cache": cache}))
    server, task, port = await serve(app)
    url = f"http://127.0.0.1:{port}"
    try:
        filled = await billing_meta(clean_sandbox, url)
        await clean_sandbox.set_faults("billing", hang=True)
        while_hanging = await billing_meta(clean_sandbox, url)
        # Released: the fetch left running behind the stale answer completes and stores.
        await clean_sandbox.http.delete(f"{clean_sandbox.sandbox_url}/billing/_sandbox/faults")
        await app.state.cache.settle()
        await clean_sandbox.set_faults("billing", hang=True)
        after_refresh = await billing_meta(clean_sandbox, url)
    finally:
        await clean_sandbox.reset_sandbox()
        await stop(server, task)
    assert (filled["cache"], filled["stale"]) == ("MISS", False)
    assert (while_hanging["cache"], while_hanging["stale"]) == ("STALE", True)
    assert while_hanging["fetchedAt"] == filled["fetchedAt"]
    assert (after_refresh["cache"], after_refresh["stale"]) == ("STALE", True)
    # Without stale-if-slow the request would have waited out its deadline, the fetch with it.
    refreshed_at = datetime.fromisoformat(after_refresh["fetchedAt"])
    assert refreshed_at > datetime.fromisoformat(filled["fetchedAt"])
