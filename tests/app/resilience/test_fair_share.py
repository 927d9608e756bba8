"""Fair share: analysts' calls have their own bulkhead lane, which agents never wait behind."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from adapters.billing.settings import BillingSettings
from adapters.http.context import Deadline, request_deadline
from adapters.settings import BreakerSettings, BulkheadSettings, RetrySettings
from app.http.authenticated import AuthenticatedGraphQL
from app.http.state import GatewayState
from app.resilience.bulkhead import Bulkhead
from app.resilience.fair_share import (
    Audience,
    TrafficClass,
    admits,
    traffic_class,
    traffic_class_of,
)
from app.resilience.policy import SourceResilience, resilience_for
from app.security.auth import KeyRing, TokenVerifier
from app.security.demo_keys import ensure_demo_keys, mint_token
from app.security.settings import AuthSettings
from app.settings import Settings
from app.wiring.metrics import GatewayMetrics
from kernel.errors import CircuitOpen, UpstreamBusy, UpstreamUnavailable
from kernel.models import Source

SOURCE = Source.BILLING


def bulkhead(**settings: Any) -> Bulkhead:
    return Bulkhead(SOURCE, BulkheadSettings(**settings))


@contextmanager
def acting_as(kind: TrafficClass) -> Iterator[None]:
    """Run the body in traffic class ``kind``, as a request of that class would."""
    token = traffic_class.set(kind)
    try:
        yield
    finally:
        traffic_class.reset(token)


@pytest.fixture(autouse=True)
def no_deadline() -> Iterator[None]:
    token = request_deadline.set(None)
    yield
    request_deadline.reset(token)


async def hold_slots(stack: AsyncExitStack, lane: Bulkhead, count: int, as_: TrafficClass) -> None:
    """Take ``count`` slots of ``lane`` as ``as_`` and keep them until ``stack`` closes."""
    with acting_as(as_):
        for _ in range(count):
            await stack.enter_async_context(lane.slot())


async def test_an_agent_gets_a_slot_at_once_while_analysts_fill_their_lane() -> None:
    # No wait allowed for agents: if an analyst held a slot an agent needed, this would be busy.
    lane = bulkhead(max_concurrent=1, max_wait_seconds=0, analyst_max_concurrent=2)
    async with AsyncExitStack() as analysts:
        await hold_slots(analysts, lane, 2, TrafficClass.ANALYST)
        assert lane.analyst_in_use == 2
        async with lane.slot():
            assert lane.in_use == 1


async def test_an_analyst_cannot_take_a_free_agent_slot() -> None:
    lane = bulkhead(max_concurrent=5, analyst_max_concurrent=1, analyst_max_wait_seconds=0)
    async with AsyncExitStack() as analysts:
        await hold_slots(analysts, lane, 1, TrafficClass.ANALYST)
        with acting_as(TrafficClass.ANALYST), pytest.raises(UpstreamBusy):
            async with lane.slot():
                pass
    assert lane.in_use == 0


async def test_agents_filling_their_lane_leave_the_analysts_lane_alone() -> None:
    lane = bulkhead(max_concurrent=1, max_wait_seconds=0, analyst_max_concurrent=1)
    async with AsyncExitStack() as agents:
        await hold_slots(agents, lane, 1, TrafficClass.INTERACTIVE)
        with acting_as(TrafficClass.ANALYST):
            async with lane.slot():
                assert lane.analyst_in_use == 1


async def test_an_analyst_queues_for_the_next_analyst_slot() -> None:
    lane = bulkhead(analyst_max_concurrent=1, analyst_max_wait_seconds=60)
    release = asyncio.Event()
    holding = asyncio.Event()

    async def first() -> None:
        with acting_as(TrafficClass.ANALYST):
            async with lane.slot():
                holding.set()
                await release.wait()

    async def second() -> str:
        with acting_as(TrafficClass.ANALYST):
            async with lane.slot():
                return "served"

    holder = asyncio.create_task(first())
    await holding.wait()
    waiter = asyncio.create_task(second())
    await asyncio.sleep(0)
    assert not waiter.done()
    release.set()
    assert await waiter == "served"
    await holder


async def test_an_analysts_wait_ends_at_the_request_deadline() -> None:
    lane = bulkhead(analyst_max_concurrent=1, analyst_max_wait_seconds=60)
    async with AsyncExitStack() as analysts:
        await hold_slots(analysts, lane, 1, TrafficClass.ANALYST)
        request_deadline.set(Deadline.after(0))
        with acting_as(TrafficClass.ANALYST), pytest.raises(UpstreamBusy):
            async with lane.slot():
                pass


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("analyst", TrafficClass.ANALYST),
        ("agent", TrafficClass.INTERACTIVE),
        ("supervisor", TrafficClass.INTERACTIVE),
        ("ivr", TrafficClass.INTERACTIVE),
    ],
)
def test_the_traffic_class_follows_the_role(role: str, expected: TrafficClass) -> None:
    assert traffic_class_of(role) is expected


def test_work_outside_any_request_is_interactive() -> None:
    assert traffic_class.get() is TrafficClass.INTERACTIVE


class _SeesTrafficClass:
    """Stands in for strawberry: notes the traffic class the request runs in."""

    def __init__(self) -> None:
        self.seen: list[TrafficClass] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen.append(traffic_class.get())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_the_graphql_endpoint_runs_an_analysts_request_in_the_analyst_class(
    tmp_path: Path,
) -> None:
    keys = ensure_demo_keys(tmp_path)
    settings = AuthSettings()
    verifier = TokenVerifier(settings, KeyRing(static_key=keys.public_pem))
    inner = _SeesTrafficClass()
    endpoint = AuthenticatedGraphQL(inner, ide_enabled=False)  # type: ignore[arg-type]
    state = GatewayState(store=None, sources=None, verifier=verifier, default_region="GB")  # type: ignore[arg-type]

    async def call(role: str) -> None:
        token = mint_token(keys, settings, subject=f"{role}-1", role=role)
        scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "headers": [(b"authorization", f"Bearer {token}".encode())],
            "query_string": b"",
            "state": {"gateway": state},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            pass

        await endpoint(scope, receive, send)

    await call("analyst")
    await call("agent")
    assert inner.seen == [TrafficClass.ANALYST, TrafficClass.INTERACTIVE]
    assert traffic_class.get() is TrafficClass.INTERACTIVE


async def test_analysts_slots_in_use_reach_the_metrics_and_readyz() -> None:
    metrics = GatewayMetrics.create(multiproc_dir="")
    resilience = resilience_for(Settings(), events=metrics.resilience)
    metrics.resilience.watch(resilience.sources.values())
    billing = resilience.policy(SOURCE)

    async with AsyncExitStack() as analysts:
        await hold_slots(analysts, billing.bulkhead, 2, TrafficClass.ANALYST)
        text = metrics.exposition().decode()
        snapshot = resilience.snapshot(SOURCE)

    assert 'scv_bulkhead_analyst_in_use{source="BILLING"} 2.0' in text.splitlines()
    assert 'scv_bulkhead_in_use{source="BILLING"} 0.0' in text.splitlines()
    # The lane starts at its adaptive limit's initial value.
    assert (snapshot["bulkhead_analyst_in_use"], snapshot["bulkhead_analyst_size"]) == (2, 4)


def one_failure_opens() -> SourceResilience:
    settings = BillingSettings(
        retry=RetrySettings(retries=0), breaker=BreakerSettings(consecutive_failures=1)
    )
    return SourceResilience(SOURCE, settings)


async def failing() -> object:
    raise UpstreamUnavailable(SOURCE, "503 from the source")


async def test_analysts_failures_do_not_open_the_breaker_on_agents() -> None:
    policy = one_failure_opens()
    with acting_as(TrafficClass.ANALYST), pytest.raises(UpstreamUnavailable):
        await policy.call(failing, idempotent=True)

    assert policy.breaker_state == "closed"


async def test_agents_failures_still_open_the_breaker_for_everyone() -> None:
    policy = one_failure_opens()
    with pytest.raises(UpstreamUnavailable):
        await policy.call(failing, idempotent=True)

    assert policy.breaker_state == "open"
    with acting_as(TrafficClass.ANALYST), pytest.raises(CircuitOpen):
        await policy.call(failing, idempotent=True)


async def test_an_analysts_successful_probes_close_a_half_open_breaker() -> None:
    now = [0.0]
    settings = BillingSettings(
        retry=RetrySettings(retries=0),
        breaker=BreakerSettings(consecutive_failures=1, open_seconds=10, half_open_probes=1),
    )
    policy = SourceResilience(SOURCE, settings, clock=lambda: now[0])
    with pytest.raises(UpstreamUnavailable):
        await policy.call(failing, idempotent=True)
    now[0] = 11.0
    assert policy.breaker_state == "half_open"

    async def answering() -> object:
        return {"ok": True}

    with acting_as(TrafficClass.ANALYST):
        await policy.call(answering, idempotent=True)

    assert policy.breaker_state == "closed"


# --- analysts on processes of their own ----------------------------------------------------


@pytest.mark.parametrize(
    ("audience", "role", "admitted"),
    [
        ("all", "analyst", True),
        ("all", "agent", True),
        ("agents", "agent", True),
        ("agents", "supervisor", True),
        ("agents", "ivr", True),
        ("agents", "analyst", False),
        ("analysts", "analyst", True),
        ("analysts", "agent", False),
        ("analysts", "supervisor", False),
    ],
)
def test_each_process_group_serves_its_own_roles(
    audience: Audience, role: str, admitted: bool
) -> None:
    assert admits(audience, role) is admitted


async def test_a_request_sent_to_the_other_groups_port_is_refused_unseen(tmp_path: Path) -> None:
    keys = ensure_demo_keys(tmp_path)
    settings = AuthSettings()
    verifier = TokenVerifier(settings, KeyRing(static_key=keys.public_pem))
    inner = _SeesTrafficClass()
    refusals: list[str] = []
    endpoint = AuthenticatedGraphQL(
        inner,  # type: ignore[arg-type]
        ide_enabled=False,
        audience="agents",
        count_refusal=refusals.append,
    )
    state = GatewayState(store=None, sources=None, verifier=verifier, default_region="GB")  # type: ignore[arg-type]
    token = mint_token(keys, settings, subject="analyst-1", role="analyst")
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/graphql",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "query_string": b"",
        "state": {"gateway": state},
    }
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await endpoint(scope, receive, send)

    assert inner.seen == []
    assert sent[0]["status"] == 421
    assert b"WRONG_PORT" in sent[1]["body"]
    assert refusals == ["WRONG_PORT"]
