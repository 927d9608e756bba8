"""Live changes: what the gateway hears, published to every instance and fanned out there.

``LiveChanges`` is both ends. Publishing: the webhook receiver (a vendor's record changed),
the interaction service (a handoff, claim, transfer, knowledge check or end) and people's
link decisions call it; it names the customer a record is linked to and sends the event on
the engine's channel (``app.live.channels``). Receiving: every instance listens on that
channel, the publisher's own included, and hands each event to its hub, which queues it for
the subscriptions of its topics (``app.live.hub``). One path for every event, so that an
event heard by instance A reaches a subscriber of instance B exactly as one of A's own.

After the engine's connection was lost, every subscriber is told to re-query (the events
sent meanwhile are gone). Publishing never fails what caused it: a webhook is still
acknowledged and a claim still made when the channel is down (logged and counted);
subscribers then miss that event, and the desktop's re-query on reconnect catches up.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime

from app.live.channels import EventChannel
from app.live.codec import UnreadableEvent, decode, encode
from app.live.hub import LiveHub
from app.live.metrics import LiveMetrics
from kernel.access import Principal
from kernel.identity import CustomerId, IdentityStore
from kernel.interactions import InteractionView
from kernel.live import CustomerChanged, Dropped, InteractionChanged, LiveEvent
from kernel.models import Source

logger = logging.getLogger(__name__)


class LiveChanges:
    """The ``LiveFeed`` of this process's subscriptions, and the publisher of its changes."""

    def __init__(
        self, hub: LiveHub, channel: EventChannel, store: IdentityStore, metrics: LiveMetrics
    ) -> None:
        self._hub = hub
        self._channel = channel
        self._store = store
        self._metrics = metrics

    async def start(self) -> None:
        """Listen on the channel (returns once listening, or still trying after a while)."""
        await self._channel.start(self._received, self._missed)

    async def close(self) -> None:
        await self._channel.close()

    # -- the feed (kernel.live.LiveFeed) ------------------------------------------------------

    def subscribe(
        self, principal: Principal, topics: Sequence[str], *, field: str
    ) -> AbstractAsyncContextManager[AsyncIterator[LiveEvent | Dropped]]:
        return self._hub.subscribe(principal, topics, field=field)

    def delivered(self, event: LiveEvent, field: str) -> None:
        self._hub.delivered(event, field)

    # -- publishing ---------------------------------------------------------------------------

    def for_store(self, store: IdentityStore) -> LiveChanges:
        """The same changes, a vendor's record found in ``store`` (another tenant's: its
        webhooks name records of its own accounts)."""
        view = copy.copy(self)
        view._store = store
        return view

    async def record_changed(
        self, source: Source, record_id: str, at: datetime, received_at: float
    ) -> None:
        """A vendor's record changed: its customer's subscribers hear which system did.

        A record linked to no customer yet concerns no subscriber (the next sync or live
        lookup links it)."""
        customer_id = await self._store.find_by_source_id(source, record_id)
        if customer_id is None:
            return
        await self.publish(
            CustomerChanged(
                customer_id=customer_id, sources=(source,), at=at, received_at=received_at
            )
        )

    def out_of_order(self, source: Source) -> None:
        """A vendor event older than one already applied for its record: not published."""
        self._metrics.stale.labels(source.value).inc()

    async def links_changed(self, customer_ids: Iterable[CustomerId]) -> None:
        """A person linked or unlinked records: each customer's every panel may differ."""
        now = datetime.now(UTC)
        for customer_id in dict.fromkeys(customer_ids):
            await self.publish(
                CustomerChanged(
                    customer_id=customer_id,
                    sources=(),
                    at=now,
                    received_at=time.time(),
                    links_changed=True,
                )
            )

    async def interaction_changed(self, view: InteractionView, step: str) -> None:
        """An interaction took ``step``: its subscribers and the agents' queues hear it."""
        await self.publish(
            InteractionChanged(
                view=view,
                step=step,
                at=datetime.now(UTC),
                received_at=time.time(),
            )
        )

    async def publish(self, event: LiveEvent) -> None:
        """Send ``event`` to every instance; a failure is logged and counted, never raised."""
        kind = _kind(event)
        try:
            await self._channel.publish(encode(event))
        except Exception as exc:
            self._metrics.published.labels(f"{kind}_failed").inc()
            logger.warning("live change not published (%s)", type(exc).__name__)
            return
        self._metrics.published.labels(kind).inc()

    def _received(self, payload: str) -> None:
        try:
            event = decode(payload)
        except UnreadableEvent:
            self._metrics.received.labels("unreadable").inc()
            return
        self._metrics.received.labels(_kind(event)).inc()
        self._hub.deliver(event)

    def _missed(self) -> None:
        # The engine's connection was lost and is back: what it carried meanwhile is gone,
        # so every subscriber is told to re-query rather than trust a silent gap.
        told = self._hub.missed()
        self._metrics.received.labels("gap").inc()
        logger.warning("live changes: listening again; %d subscriber(s) told to re-query", told)


def _kind(event: LiveEvent) -> str:
    return "customer" if isinstance(event, CustomerChanged) else "interaction"
