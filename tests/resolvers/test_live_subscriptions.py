"""The subscriptions' resolvers over a real hub: what a slow subscriber is told, who may
subscribe, which calls an agent's queue shows, and the end of an interaction's subscription."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from prometheus_client import CollectorRegistry

from app.http.errors import PresentErrors
from app.live.hub import LiveHub
from app.live.metrics import LiveMetrics
from kernel.access import ActiveInteraction, Principal, VerificationLevel
from kernel.identity import CustomerId
from kernel.interactions import InteractionState, InteractionView
from kernel.live import CustomerChanged, InteractionChanged
from kernel.models import Source
from resolvers.context import RequestContext, Sources, new_context
from resolvers.schema import build_schema
from tests.fake_systems import named_customers
from tests.resolvers.memory_store import named_store

AGENT = Principal(subject="agent-1", role="agent")
ADA = CustomerId("ada")
AT = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)

CUSTOMER_UPDATED = 'subscription { customerUpdated(customerId: "ada") { sources panels requery } }'
INCOMING = "subscription { incomingCalls { contactId state agent } }"
CALL = 'subscription { interactionUpdated(contactId: "c-1") { state } }'


@pytest.fixture(scope="module")
def schema() -> strawberry.Schema:
    return build_schema(extensions=[PresentErrors])


def hub(queue_size: int = 8, limit: int = 5) -> LiveHub:
    return LiveHub(
        LiveMetrics.create(CollectorRegistry()), queue_size=queue_size, max_per_principal=limit
    )


def context(
    live: LiveHub,
    principal: Principal = AGENT,
    interaction: ActiveInteraction | None = None,
) -> RequestContext:
    systems = named_customers()
    sources = Sources.from_adapters(systems.by_source)
    return new_context(principal, named_store(), sources, "US", live=live, interaction=interaction)


def call(
    contact: str, state: InteractionState, agent: str | None, n: int = 0
) -> InteractionChanged:
    view = InteractionView(
        interaction_id=f"i-{contact}",
        contact_id=contact,
        customer_id=ADA,
        state=state,
        agent=agent,
        level=VerificationLevel.MEDIUM,
        method="PIN",
        result="AUTHENTICATED",
        verified_at=AT,
        verified_by="IVR",
    )
    return InteractionChanged(view=view, step="STEP", at=AT.replace(second=n), received_at=0.0)


def crm_change(n: int = 0) -> CustomerChanged:
    return CustomerChanged(
        customer_id=ADA, sources=(Source.CRM,), at=AT.replace(second=n), received_at=0.0
    )


async def opened(
    schema: strawberry.Schema, live: LiveHub, query: str, ctx: RequestContext, count: int = 1
) -> AsyncGenerator[Any, None]:
    """The subscription's results, once the hub has it (its resolver ran up to its wait)."""
    results = await schema.subscribe(query, context_value=ctx)
    assert isinstance(results, AsyncGenerator)
    first: asyncio.Task[Any] = asyncio.ensure_future(anext(results))
    # A few turns of the loop: the resolver checks the customer, then subscribes.
    for _ in range(1000):
        if live.open >= count or first.done():
            break
        await asyncio.sleep(0)

    async def replay() -> AsyncGenerator[Any, None]:
        yield await first
        async for result in results:
            yield result

    return replay()


def data(result: Any) -> Any:
    assert not result.errors, result.errors
    return result.data


async def test_a_change_names_its_system_and_the_panels_to_query_again(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    results = await opened(schema, live, CUSTOMER_UPDATED, context(live))
    live.deliver(crm_change())
    change = data(await anext(results))["customerUpdated"]
    assert change == {
        "sources": ["CRM"],
        "panels": ["profile", "contact", "conflicts", "facts"],
        "requery": False,
    }


async def test_a_subscriber_that_fell_behind_is_told_to_requery_the_whole_customer(
    schema: strawberry.Schema,
) -> None:
    live = hub(queue_size=2)
    results = await opened(schema, live, CUSTOMER_UPDATED, context(live))
    for n in range(5):
        live.deliver(crm_change(n))
    change = data(await anext(results))["customerUpdated"]
    assert change["requery"] is True
    assert "links" in change["panels"]


async def test_a_call_queue_that_fell_behind_ends_with_events_dropped(
    schema: strawberry.Schema,
) -> None:
    live = hub(queue_size=1)
    results = await opened(schema, live, INCOMING, context(live))
    live.deliver(call("c-1", InteractionState.WAITING, None))
    live.deliver(call("c-2", InteractionState.WAITING, None))
    ended = await anext(results)
    assert ended.errors[0].extensions["code"] == "EVENTS_DROPPED"


async def test_a_call_transferred_to_another_agent_is_not_in_my_queue(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    results = await opened(schema, live, INCOMING, context(live))
    live.deliver(call("c-1", InteractionState.WAITING, "agent-2"))
    live.deliver(call("c-2", InteractionState.WAITING, "agent-1"))
    live.deliver(call("c-3", InteractionState.WAITING, None))
    shown = [data(await anext(results))["incomingCalls"]["contactId"] for _ in range(2)]
    assert shown == ["c-2", "c-3"]


async def test_an_analyst_may_follow_a_customer_but_not_the_calls(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    analyst = context(live, Principal("analyst-1", "analyst"))
    refused = await schema.subscribe(INCOMING, context_value=analyst)
    assert isinstance(refused, AsyncGenerator)
    result = await anext(refused)
    assert result.errors[0].extensions["code"] == "FORBIDDEN"
    assert live.open == 0


async def test_more_subscriptions_than_the_limit_are_refused(schema: strawberry.Schema) -> None:
    live = hub(limit=1)
    await opened(schema, live, CUSTOMER_UPDATED, context(live))
    second = await schema.subscribe(CUSTOMER_UPDATED, context_value=context(live))
    assert isinstance(second, AsyncGenerator)
    result = await anext(second)
    assert result.errors[0].extensions["code"] == "TOO_MANY_SUBSCRIPTIONS"


async def test_a_subscription_within_an_interaction_ends_when_the_call_ends(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    within = ActiveInteraction(
        interaction_id="i-c-1",
        contact_id="c-1",
        customer_id=ADA,
        agent="agent-1",
        level=VerificationLevel.MEDIUM,
    )
    results = await opened(schema, live, CUSTOMER_UPDATED, context(live, interaction=within))
    live.deliver(call("c-1", InteractionState.ENDED, "agent-1"))
    ended = await anext(results)
    assert ended.errors[0].extensions == {
        "code": "SUBSCRIPTION_ENDED",
        "reason": "INTERACTION_ENDED",
    }


async def test_an_interaction_subscription_completes_after_the_end(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    results = await opened(schema, live, CALL, context(live))
    live.deliver(call("c-1", InteractionState.ACTIVE, "agent-1", n=1))
    live.deliver(call("c-1", InteractionState.WAITING, None, n=0))  # older: never shown
    live.deliver(call("c-1", InteractionState.ENDED, "agent-1", n=2))
    states = [data(result)["interactionUpdated"]["state"] async for result in results]
    assert states == ["ACTIVE", "ENDED"]


async def test_a_subscription_within_an_interaction_ends_when_its_token_expires(
    schema: strawberry.Schema,
) -> None:
    live = hub()
    expired = ActiveInteraction(
        interaction_id="i-c-1",
        contact_id="c-1",
        customer_id=ADA,
        agent="agent-1",
        level=VerificationLevel.MEDIUM,
        expires_at=1.0,
    )
    results = await schema.subscribe(
        CUSTOMER_UPDATED, context_value=context(live, interaction=expired)
    )
    assert isinstance(results, AsyncGenerator)
    ended = await anext(results)
    assert ended.errors[0].extensions == {
        "code": "SUBSCRIPTION_ENDED",
        "reason": "INTERACTION_TOKEN_EXPIRED",
    }
