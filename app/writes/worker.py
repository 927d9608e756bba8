"""The outbox's worker: claims due writes (``for update skip locked``, so every process's
workers share the outbox) and tries each at its system of record, until stopped.

A write a request could not deliver is due after its backoff; one whose claim was left by
a process that stopped is due once its lease is over. Nothing is held in memory between
rounds: a restart loses nothing, it only waits for those leases.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.store.writes import WriteStore
from app.writes.delivery import Delivery
from app.writes.settings import WritesSettings

logger = logging.getLogger(__name__)


class OutboxWorker:
    """Delivers the outbox in rounds of ``batch_size`` writes, concurrently within a round."""

    def __init__(self, store: WriteStore, delivery: Delivery, settings: WritesSettings) -> None:
        self._store = store
        self._delivery = delivery
        self._settings = settings

    async def run_once(self) -> int:
        """One round: claim the due writes and try each; how many were tried."""
        rows = await self._store.claim_due(self._settings.batch_size, self._settings.lease_seconds)
        if rows:
            await asyncio.gather(*(self._delivery.attempt(row) for row in rows))
        return len(rows)

    async def run_forever(self) -> None:
        """Rounds back to back while writes are due, else one every ``poll_seconds``."""
        while True:
            try:
                tried = await self.run_once()
            except Exception as exc:
                # The store may be away for a moment: the outbox is there when it is back.
                # The type only: a driver's message could quote a parameter (a value).
                logger.warning("an outbox round failed", extra={"error_type": type(exc).__name__})
                tried = 0
            if tried == 0:
                await asyncio.sleep(self._settings.poll_seconds)


@asynccontextmanager
async def running(worker: OutboxWorker) -> AsyncIterator[None]:
    """``worker`` in the background for the body; stopped after (claims simply lapse)."""
    task = asyncio.create_task(worker.run_forever())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
