"""Subscriptions: a customer's changes, an interaction's steps, and the agents' incoming calls.

Each is an async generator over the request's ``LiveFeed`` (``kernel/live.py``), under the
same rules as a query: the principal is the one the token named (``connection_init``, or
the HTTP headers), the role decides what may be subscribed to, and whatever a subscriber
selects of a customer goes through the same resolvers, masking and audit. A subscription
ends, with ``SUBSCRIPTION_ENDED``, when its bearer token expires, or the interaction it acts
within (``X-Interaction-Token``) ends, moves to another agent or its token expires; a
subscriber too slow to take its events is told to re-query (``CustomerChange.requery``, or
``EVENTS_DROPPED``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

import strawberry

from kernel.client_errors import BadUserInput, Forbidden, GatewayError
from kernel.identity import CustomerId
from kernel.interactions import InteractionState
from kernel.live import (
    CALLS_TOPIC,
    CustomerChanged,
    Dropped,
    EventsDropped,
    InteractionChanged,
    LiveEvent,
    SubscriptionEnded,
    customer_topic,
    interaction_topic,
    topics_of,
)
from resolvers.operations.interactions import DESK_ROLES, Interaction
from resolvers.tenant_boundary import audit_crossing
from resolvers.types.common import Info, Source
from resolvers.types.customer import panels_changed

#: Roles that may follow a customer's changes: those who may query a customer's panels. The
#: IVR (a machine client that hands callers over) reads no customer's data, so no changes.
CUSTOMER_ROLES = frozenset({"agent", "supervisor", "analyst"})
#: An interaction's life is over in these states: its subscription completes after saying so.
FINAL_STATES = frozenset({InteractionState.ENDED, InteractionState.EXPIRED})


@strawberry.type(description="What changed of a customer: re-query the panels it names.")
class CustomerChange:
    customer_id: strawberry.ID
    sources: list[Source] = strawberry.field(
        description="The systems whose records changed; empty when only the links did."
    )
    panels: list[str] = strawberry.field(
        description="The fields of `Customer` to query again (`profile`, `billing`, ...)."
    )
    at: datetime = strawberry.field(
        description="The system's own time of the change (for a dropped batch: now)."
    )
    requery: bool = strawberry.field(
        description="True: changes were missed (this subscriber fell behind and events were "
        "dropped) or the links changed; query the whole customer again."
    )


async def _events(
    info: Info, topics: Sequence[str], field: str
) -> AsyncIterator[LiveEvent | Dropped]:
    """The events of ``topics`` for this request, until its token or interaction ends."""
    context = info.context
    if context.live is None:
        raise GatewayError("live changes are not available")
    interaction = context.interaction
    watched = [*topics]
    if interaction is not None and interaction_topic(interaction.contact_id) not in watched:
        # Heard to end this subscription when the interaction it acts within ends.
        watched.append(interaction_topic(interaction.contact_id))
    expiries = [
        (context.token_expires_at, "TOKEN_EXPIRED"),
        (interaction.expires_at if interaction is not None else None, "INTERACTION_TOKEN_EXPIRED"),
    ]
    deadline, reason = min(
        ((at, why) for at, why in expiries if at is not None), default=(None, "TOKEN_EXPIRED")
    )
    async with context.live.subscribe(context.principal, watched, field=field) as events:
        iterator = aiter(events)
        while True:
            item = await _next_before_expiry(iterator, deadline, reason)
            if isinstance(item, InteractionChanged) and not set(topics_of(item)) & set(topics):
                if interaction is not None and _ends(item, interaction.agent):
                    raise SubscriptionEnded(
                        "the interaction this subscription acts within has ended",
                        "INTERACTION_ENDED",
                    )
                continue
            if not isinstance(item, Dropped):
                context.live.delivered(item, field)
            yield item


async def _next_before_expiry(
    iterator: AsyncIterator[LiveEvent | Dropped], expires_at: float | None, reason: str
) -> LiveEvent | Dropped:
    if expires_at is None:
        return await anext(iterator)
    left = expires_at - time.time()
    try:
        if left <= 0:
            raise TimeoutError
        return await asyncio.wait_for(anext(iterator), left)
    except TimeoutError:
        raise SubscriptionEnded(
            "a token of this subscription has expired: subscribe again with a new one", reason
        ) from None


def _ends(event: InteractionChanged, agent: str) -> bool:
    return event.view.state in FINAL_STATES or event.view.agent != agent


def _check_role(info: Info, roles: frozenset[str]) -> None:
    role = info.context.principal.role
    if role not in roles:
        raise Forbidden(f"role {role} may not subscribe to this")


async def customer_updated(info: Info, customer_id: strawberry.ID) -> AsyncIterator[CustomerChange]:
    """``Subscription.customerUpdated``: which systems and panels of a customer changed."""
    _check_role(info, CUSTOMER_ROLES)
    wanted = CustomerId(str(customer_id))
    if await info.context.loaders.customers.load(wanted) is None:
        await audit_crossing(info.context, "id", wanted)
        raise BadUserInput("no customer has this id")
    async for item in _events(info, [customer_topic(wanted)], "customerUpdated"):
        if isinstance(item, Dropped):
            yield CustomerChange(
                customer_id=customer_id,
                sources=[],
                panels=panels_changed((), links_changed=True),
                at=datetime.now().astimezone(),
                requery=True,
            )
        elif isinstance(item, CustomerChanged):
            yield CustomerChange(
                customer_id=customer_id,
                sources=list(item.sources),
                panels=panels_changed(item.sources, links_changed=item.links_changed),
                at=item.at,
                requery=item.links_changed,
            )


async def interaction_updated(info: Info, contact_id: strawberry.ID) -> AsyncIterator[Interaction]:
    """``Subscription.interactionUpdated``: each step of one interaction, until it ends."""
    _check_role(info, DESK_ROLES)
    # Another tenant's call is listened for as a missing one is (nothing comes), and the
    # attempt goes on that tenant's trail.
    await audit_crossing(info.context, "interaction", str(contact_id))
    newest: datetime | None = None
    async for item in _events(info, [interaction_topic(str(contact_id))], "interactionUpdated"):
        if isinstance(item, Dropped):
            raise EventsDropped("steps were dropped: query interaction(contactId) again")
        if not isinstance(item, InteractionChanged) or item.view.tenant != info.context.tenant:
            # Another tenant's call with the same contact id is none of this one's.
            continue
        # One channel keeps its order, but a step is never shown after a newer one.
        if newest is not None and item.at < newest:
            continue
        newest = item.at
        yield Interaction.from_view(item.view)
        if item.view.state in FINAL_STATES:
            return


async def incoming_calls(info: Info) -> AsyncIterator[Interaction]:
    """``Subscription.incomingCalls``: calls handed over or transferred to you and waiting,
    and every later step of a call (claimed, ended) so that a queue can drop it."""
    _check_role(info, DESK_ROLES)
    me = info.context.principal.subject
    async for item in _events(info, [CALLS_TOPIC], "incomingCalls"):
        if isinstance(item, Dropped):
            raise EventsDropped("calls were dropped: query waitingCalls again")
        if not isinstance(item, InteractionChanged) or item.view.tenant != info.context.tenant:
            # Another tenant's calls never reach this tenant's desks.
            continue
        view = item.view
        # A call transferred to another agent waits for that agent only.
        if view.state is InteractionState.WAITING and view.agent not in (None, me):
            continue
        yield Interaction.from_view(view)


@strawberry.type
class Subscription:
    customer_updated: AsyncIterator[CustomerChange] = strawberry.subscription(
        resolver=customer_updated,
        description="A customer's changes as the gateway hears them (webhooks, its own "
        "writes, link decisions), on every gateway instance: which systems and panels "
        "changed, never the values (query them, masked and audited as always). Agents, "
        "supervisors and analysts.",
    )
    interaction_updated: AsyncIterator[Interaction] = strawberry.subscription(
        resolver=interaction_updated,
        description="An interaction's steps (handed over, claimed, transferred, verified, "
        "ended); completes once it has ended. Agents and supervisors.",
    )
    incoming_calls: AsyncIterator[Interaction] = strawberry.subscription(
        resolver=incoming_calls,
        description="Calls handed over by the IVR, or transferred to you, waiting to be "
        "claimed; then each one's later steps (claimed, ended), so a queue can drop it. "
        "Agents and supervisors.",
    )
