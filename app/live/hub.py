"""This process's subscribers, and the fan-out of each event to their bounded queues.

The hub is in-process only: events reach it from the engine that carries them between
instances (``app.live.channels``), every instance's hub hearing every event, its own
included. A home-made bus it is not: it only hands one process's events to that process's
subscribers.

Each subscription has a queue of at most ``queue_size`` events. A subscriber too slow to
take them (a stalled client, a full socket) cannot make the gateway hold more: when its
queue is full, what it holds is dropped and replaced by one ``Dropped`` marker, which the
subscription turns into "re-query" for its client.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from app.live.metrics import LiveMetrics
from kernel.access import Principal
from kernel.live import Dropped, LiveEvent, SubscriptionLimitReached, topics_of


class Subscriber:
    """One open subscription: its topics and its bounded queue."""

    __slots__ = ("_queue", "field", "topics")

    def __init__(self, topics: Sequence[str], field: str, queue_size: int) -> None:
        self.topics = tuple(topics)
        self.field = field
        self._queue: asyncio.Queue[LiveEvent | Dropped] = asyncio.Queue(maxsize=queue_size)

    def offer(self, event: LiveEvent) -> int:
        """Queue ``event``; how many events were dropped for it (0: none, the queue had room).

        A full queue is emptied and holds one ``Dropped`` instead, counting what it held and
        ``event``: the subscriber will re-query, so none of them is of use to it any more.
        """
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            dropped, earlier = 1, 0
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if isinstance(item, Dropped):
                    earlier += item.count
                else:
                    dropped += 1
            self._queue.put_nowait(Dropped(count=earlier + dropped))
            return dropped
        return 0

    def missed(self) -> None:
        """Events may have been lost on their way here (the engine's connection was lost):
        what is queued gives way to one ``Dropped``, so that the subscriber re-queries."""
        earlier = 0
        while not self._queue.empty():
            item = self._queue.get_nowait()
            earlier += item.count if isinstance(item, Dropped) else 1
        self._queue.put_nowait(Dropped(count=earlier))

    async def events(self) -> AsyncIterator[LiveEvent | Dropped]:
        while True:
            yield await self._queue.get()


class LiveHub:
    """Subscribers by topic; ``deliver`` puts an event on the queue of each of its topic's."""

    def __init__(
        self,
        metrics: LiveMetrics,
        *,
        queue_size: int,
        max_per_principal: int,
    ) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._max_per_principal = max_per_principal
        self._by_topic: dict[str, set[Subscriber]] = {}
        self._per_principal: Tally[str] = Tally()

    @property
    def open(self) -> int:
        """Subscriptions open in this process now."""
        return sum(self._per_principal.values())

    @asynccontextmanager
    async def subscribe(
        self, principal: Principal, topics: Sequence[str], *, field: str
    ) -> AsyncIterator[AsyncIterator[LiveEvent | Dropped]]:
        """A subscription to ``topics`` for as long as the block runs."""
        if self._per_principal[principal.subject] >= self._max_per_principal:
            self._metrics.refused.labels("limit").inc()
            raise SubscriptionLimitReached(
                f"at most {self._max_per_principal} open subscriptions per principal"
            )
        subscriber = Subscriber(topics, field, self._queue_size)
        self._per_principal[principal.subject] += 1
        for topic in subscriber.topics:
            self._by_topic.setdefault(topic, set()).add(subscriber)
        self._metrics.open_subscriptions.labels(field).inc()
        try:
            yield subscriber.events()
        finally:
            self._metrics.open_subscriptions.labels(field).dec()
            for topic in subscriber.topics:
                holders = self._by_topic.get(topic)
                if holders is not None:
                    holders.discard(subscriber)
                    if not holders:
                        del self._by_topic[topic]
            self._per_principal[principal.subject] -= 1
            if self._per_principal[principal.subject] <= 0:
                del self._per_principal[principal.subject]

    def deliver(self, event: LiveEvent) -> int:
        """Queue ``event`` for every subscriber of its topics (once each); how many."""
        reached: set[Subscriber] = set()
        for topic in topics_of(event):
            reached.update(self._by_topic.get(topic, ()))
        for subscriber in reached:
            dropped = subscriber.offer(event)
            if dropped:
                self._metrics.dropped.labels(subscriber.field).inc(dropped)
            else:
                self._metrics.fanned_out.labels(subscriber.field).inc()
        return len(reached)

    def missed(self) -> int:
        """Tell every subscriber to re-query (events may have been lost); how many."""
        reached = {subscriber for holders in self._by_topic.values() for subscriber in holders}
        for subscriber in reached:
            subscriber.missed()
        return len(reached)

    def delivered(self, event: LiveEvent, field: str) -> None:
        """The event latency of ``event``, handed to a subscriber of ``field`` now."""
        self._metrics.latency_seconds.labels(field).observe(
            max(0.0, time.time() - event.received_at)
        )
