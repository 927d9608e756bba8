"""Stale-if-slow: an agent on a call sees the cached panel rather than wait for a slow system.

When a read must go to its system (its cached value is past the fresh and stale-while-
revalidate windows) but the cache still holds a value young enough to be served when the
system fails (``max_stale_if_error_seconds``), a principal whose role has a budget here
waits for the system until that long after the request arrived at most: the budget is the
request's, not each read's, so that a panel made of reads one after another (a customer,
then its invoices) still answers within it. Past it, the cached value is served marked
``STALE`` and the fetch goes on in the background: its answer refreshes the entry for the
next view (the fetch keeps the request's deadline, so a hanging system is given up on as
before, only without anyone waiting for it).

Roles without a budget (analysts, by default) wait for fresh data as they always have, and
so does work with no principal behind it (the identity sync, webhook re-reads; exports read
the analysts' read model, not the cache). Whose request it is reaches the cache through
``patience``, set by the GraphQL endpoint from the verified principal, the way the
bulkheads learn their traffic class, so the adapters' Protocols need not carry it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True, slots=True)
class Patience:
    """Whose request is under way, and since when (``time.monotonic()``)."""

    role: str
    since: float = field(default_factory=time.monotonic)


#: The request under way's ``Patience``; None outside a request (then reads wait).
patience: ContextVar[Patience | None] = ContextVar("cache_patience", default=None)


def _budget(default: float | None, who: str) -> float | None:
    return Field(
        default=default,
        gt=0,
        description=(
            f"{who}: longest wait in seconds for a slow system before a cached value is "
            "served STALE (the fetch then finishes in the background); unset: always wait"
        ),
    )


class StaleIfSlowSettings(BaseModel):
    """How long each role waits for a slow system when the cache could answer instead
    (``SCV_CACHE__STALE_IF_SLOW__<ROLE>``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    agent: float | None = _budget(0.15, "agents")
    supervisor: float | None = _budget(0.15, "supervisors")
    ivr: float | None = _budget(0.15, "the IVR")
    analyst: float | None = _budget(None, "analysts")

    def budget(self, role: str | None) -> float | None:
        """Seconds ``role`` waits before a stale value is served; None: wait for the system."""
        if role is None or role not in type(self).model_fields:
            return None
        value: float | None = getattr(self, role)
        return value

    def wait_until(self, caller: Patience | None) -> float | None:
        """The ``time.monotonic()`` until which ``caller``'s reads wait for a slow system
        that the cache could stand in for; None: they wait for it (no budget, no caller)."""
        budget = None if caller is None else self.budget(caller.role)
        return None if caller is None or budget is None else caller.since + budget
