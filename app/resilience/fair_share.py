"""Traffic classes: analysts' calls to a source never take the slots agents' calls need.

Every source's bulkhead (``app.resilience.policy.Bulkhead``) keeps two lanes: one for analysts, of
``SCV_<SOURCE>__BULKHEAD__ANALYST_MAX_CONCURRENT`` slots, and one for everyone else (agents
on calls, supervisors, the IVR), of ``MAX_CONCURRENT`` slots. An analyst's page over
hundreds of customers fills the analysts' lane and queues for it (at most until the
request's deadline); an agent's call goes to its own lane, where no analyst can be.

Which lane a call takes is the request's ``traffic_class``: a context variable the GraphQL
endpoint sets from the principal's role, as the observability middleware sets the request's
deadline, so that it reaches every upstream call the request makes (and the tasks it
spawns, which copy the context) without the adapters' Protocols carrying it.
"""

from __future__ import annotations

import enum
from contextvars import ContextVar
from typing import Literal

__all__ = ["Audience", "TrafficClass", "admits", "traffic_class", "traffic_class_of"]

#: Whom one gateway process serves. ``scv serve`` with ``SCV_ANALYST_PORT`` runs two groups
#: of processes, ``agents`` (everyone but analysts) and ``analysts`` (at a lower CPU
#: priority); a gateway on its own serves ``all``.
Audience = Literal["all", "agents", "analysts"]


class TrafficClass(enum.StrEnum):
    """Whose calls these are, as the bulkheads share each source's concurrency."""

    #: Agents, supervisors, the IVR, and work with no request (the sync, background refreshes).
    INTERACTIVE = "interactive"
    #: Analysts: ad-hoc queries over many customers, which must never slow an agent down.
    ANALYST = "analyst"


#: The class of the request under way; outside any request (the sync), interactive.
traffic_class: ContextVar[TrafficClass] = ContextVar(
    "traffic_class", default=TrafficClass.INTERACTIVE
)

_ANALYST_ROLES = frozenset({"analyst"})


def traffic_class_of(role: str) -> TrafficClass:
    """The traffic class of a principal with ``role``."""
    return TrafficClass.ANALYST if role in _ANALYST_ROLES else TrafficClass.INTERACTIVE


def admits(audience: Audience, role: str) -> bool:
    """Whether a process serving ``audience`` answers GraphQL for a principal with ``role``.

    Separate processes are what keep analysts' CPU from agents: bulkhead lanes share each
    source's concurrency, but an analyst's page of 50 customers also takes some 100 ms of
    one process's CPU, during which that process's event loop answers no agent. So when
    the two groups run, each refuses the other's principals instead of serving them.
    """
    if audience == "all":
        return True
    return (traffic_class_of(role) is TrafficClass.ANALYST) == (audience == "analysts")
