"""Live changes as the resolvers see them: the events, and the feed a subscription reads.

The gateway hears change (vendors' webhooks, IVR handoffs, claims and transfers, people's
link decisions) and tells every instance through an existing engine (PostgreSQL
LISTEN/NOTIFY, or Redis pub/sub: ``app.live``). A subscription reads its events from a
``LiveFeed``: a bounded queue of its own, with a ``Dropped`` marker in place of the events
it was too slow to take. Events carry ids, sources and times only, never a personal value:
what a subscriber then reads of a customer goes through the resolvers, masked and audited
like any query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from kernel.access import Principal
from kernel.client_errors import GatewayError
from kernel.identity import CustomerId
from kernel.interactions import InteractionView
from kernel.models import Source


@dataclass(frozen=True, slots=True)
class CustomerChanged:
    """Something of a customer changed in one or more systems (or in its links)."""

    customer_id: CustomerId
    #: The systems whose records changed; empty when only the links did.
    sources: tuple[Source, ...]
    #: The source's own time of the change (the vendor event's time), not ours.
    at: datetime
    #: When the gateway heard it (epoch seconds): the start of the event latency.
    received_at: float
    #: The links of the customer changed (a person's link decision): every panel may differ.
    links_changed: bool = False


@dataclass(frozen=True, slots=True)
class InteractionChanged:
    """An interaction (call) moved: handed over, claimed, transferred, verified or ended."""

    #: The interaction as it is after the step (no personal value: ids, states, levels).
    view: InteractionView
    #: HANDOFF, CLAIM, TRANSFER, VERIFY or END.
    step: str
    at: datetime
    received_at: float

    @property
    def contact_id(self) -> str:
        return self.view.contact_id


LiveEvent = CustomerChanged | InteractionChanged


@dataclass(frozen=True, slots=True)
class Dropped:
    """In place of events a subscriber was too slow to take: it must re-query."""

    count: int


def customer_topic(customer_id: str) -> str:
    return f"customer:{customer_id}"


def interaction_topic(contact_id: str) -> str:
    return f"interaction:{contact_id}"


#: Every interaction change: what the agents' call queues watch.
CALLS_TOPIC = "calls"


def topics_of(event: LiveEvent) -> tuple[str, ...]:
    """The topics ``event`` is delivered on."""
    if isinstance(event, CustomerChanged):
        return (customer_topic(event.customer_id),)
    return (interaction_topic(event.contact_id), CALLS_TOPIC)


class SubscriptionLimitReached(GatewayError):
    """The principal already holds as many open subscriptions as it may."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class LiveFeed(Protocol):
    """Where a subscription reads its events from (``app.live`` implements it)."""

    def subscribe(
        self, principal: Principal, topics: Sequence[str], *, field: str
    ) -> AbstractAsyncContextManager[AsyncIterator[LiveEvent | Dropped]]:
        """Open a subscription to ``topics`` for ``principal`` (``field``: which root field,
        for the metrics); ``SubscriptionLimitReached`` when it holds too many already."""
        ...

    def delivered(self, event: LiveEvent, field: str) -> None:
        """Note that ``event`` reached a subscriber (the event latency ends here)."""
        ...


class SubscriptionEnded(GatewayError):
    """A subscription's token expired, or the interaction it acted within ended."""

    code = "SUBSCRIPTION_ENDED"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason

    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "reason": self.reason}


class EventsDropped(GatewayError):
    """The subscriber was too slow: events were dropped; it must re-query and resubscribe."""

    code = "EVENTS_DROPPED"
